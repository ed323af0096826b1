"""A generated SQL models project shaped like a real Rocky/dbt repository, for the blast
radius tests and bench/bench_sql_blast_radius.py.

Layers as such projects have them: staging models read raw tables, intermediate models
join a few staging models through CTEs, marts join intermediate and staging models and
aggregate; some models carry Rocky `---toml` front matter, some use dbt `ref()` (which
the parser cannot read, so the regex fallback answers), a few are Rocky DSL files, and
comments mention model names that are not read. Deterministic for a given size.
"""

from __future__ import annotations

import random
from pathlib import Path

_SOURCES = ("shop", "billing", "crm", "ads", "support", "inventory", "web", "finance")
_ENTITIES = ("orders", "customers", "payments", "invoices", "sessions", "tickets", "items")
_COLUMNS = ("amount", "status", "country", "channel", "currency", "quantity", "region", "tier")


def _staging(name: str, rng: random.Random, index: int) -> str:
    source = rng.choice(_SOURCES)
    cols = rng.sample(_COLUMNS, 4)
    head = ""
    if index % 5 == 0:
        head = (
            f'---toml\nintent = "Clean {source} rows for {name}"\n'
            '[columns.id]\ndescription = "key"\n---\n'
        )
    body = ",\n".join(f"    cast({c} as varchar) as {c}" for c in cols)
    return (
        f"{head}-- {name}: one row per {source} record, deduplicated\n"
        f"select\n    id,\n{body},\n    updated_at\n"
        f"from raw_{source}.{rng.choice(_ENTITIES)}_{index}\n"
        "where deleted_at is null\n"
        "qualify row_number() over (partition by id order by updated_at desc) = 1\n"
    )


def _intermediate(name: str, reads: list[str], rng: random.Random, index: int) -> str:
    if index % 7 == 0:  # dbt style: the parser cannot read Jinja, the regex does
        joins = "\n".join(
            f"left join {{{{ ref('{r}') }}}} as t{i} on t{i}.id = t0.id"
            for i, r in enumerate(reads[1:], 1)
        )
        return (
            f"select t0.id, t0.{rng.choice(_COLUMNS)}\n"
            f"from {{{{ ref('{reads[0]}') }}}} as t0\n{joins}\n"
        )
    ctes = ",\n".join(
        f"c{i} as (\n    select id, {rng.choice(_COLUMNS)} as v{i}, updated_at\n"
        f"    from {r}\n    where updated_at > '2024-01-01'\n)"
        for i, r in enumerate(reads)
    )
    joins = "\n".join(f"join c{i} on c{i}.id = c0.id" for i in range(1, len(reads)))
    outputs = ", ".join(f"c{i}.v{i}" for i in range(len(reads)))
    return (
        f"-- {name}: joins {', '.join(reads)} (not {rng.choice(reads)}_old)\n"
        f"with {ctes}\nselect c0.id, {outputs}, c0.updated_at\nfrom c0\n{joins}\n"
    )


def _mart(name: str, reads: list[str], rng: random.Random) -> str:
    measure = rng.choice(_COLUMNS)
    joins = "\n".join(
        f"left join {r} as m{i} on m{i}.id = m0.id" for i, r in enumerate(reads[1:], 1)
    )
    extra = ", ".join(f"max(m{i}.updated_at) as seen_{i}" for i in range(1, len(reads)))
    return (
        f"/* {name}: reporting model */\n"
        f"select\n    m0.id,\n    count(*) as n_rows,\n    sum(m0.{measure}) as total_{measure}"
        f"{', ' + extra if extra else ''}\n"
        f"from {reads[0]} as m0\n{joins}\n"
        "group by m0.id\n"
    )


def _rocky(name: str, reads: list[str]) -> str:
    return (
        f"-- Rocky DSL model {name}\nfrom {reads[0]}\nwhere amount > 0\nselect {{ id, amount }}\n"
    )


def make_models(root: Path, count: int, seed: int = 8) -> list[Path]:
    """`count` models under root/models/{staging,intermediate,marts}; returns their paths
    in creation order (staging first)."""
    rng = random.Random(seed)
    staging = [f"stg_{i:04d}" for i in range(count * 2 // 5)]
    middle = [f"int_{i:04d}" for i in range(count * 7 // 20)]
    marts = [f"fct_{i:04d}" for i in range(count - len(staging) - len(middle))]
    paths: list[Path] = []

    def write(folder: str, name: str, text: str, suffix: str = ".sql") -> None:
        path = root / "models" / folder / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)

    for i, name in enumerate(staging):
        write("staging", name, _staging(name, rng, i))
    for i, name in enumerate(middle):
        reads = rng.sample(staging, min(rng.randint(2, 3), len(staging)))
        write("intermediate", name, _intermediate(name, reads, rng, i))
    for i, name in enumerate(marts):
        pool = middle + staging[: len(staging) // 4]
        reads = rng.sample(pool, min(rng.randint(2, 4), len(pool)))
        if i % 25 == 0:
            write("marts", name, _rocky(name, reads), ".rocky")
        else:
            write("marts", name, _mart(name, reads, rng))
    return paths


def change_models(paths: list[Path], how_many: int) -> list[Path]:
    """Edit `how_many` models spread over the project (most with readers downstream)."""
    step = max(len(paths) // max(how_many, 1), 1)
    changed = paths[::step][:how_many]
    for path in changed:
        text = path.read_text()
        path.write_text(text.replace("select", "select distinct", 1) + "-- reviewed\n")
    return changed
