import threading


class HitCounter:
    def __init__(self) -> None:
        self.hits = 0

    def record(self) -> None:
        current = self.hits
        self.hits = current + 1


def hammer(counter: HitCounter) -> None:
    threads = [threading.Thread(target=counter.record) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
