import os

BASE_DIR = "/srv/uploads"


def read_upload(filename: str) -> bytes:
    path = os.path.join(BASE_DIR, filename)
    with open(path, "rb") as handle:
        return handle.read()
