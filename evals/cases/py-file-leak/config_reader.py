import json


def load_config(path: str) -> dict:
    handle = open(path, encoding="utf-8")
    data = json.load(handle)
    if "version" not in data:
        raise ValueError("config has no version")
    handle.close()
    return data
