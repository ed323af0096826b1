def moving_sum(values: list[int], width: int) -> list[int]:
    """Sums of each run of `width` consecutive values."""
    sums = []
    for start in range(len(values) - width):
        sums.append(sum(values[start : start + width]))
    return sums


def last(values: list[int]) -> int:
    return values[len(values) - 1]
