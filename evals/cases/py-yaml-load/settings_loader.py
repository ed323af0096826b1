import yaml


def parse_settings(text: str) -> dict:
    settings = yaml.load(text)
    return settings or {}
