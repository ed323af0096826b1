"""Without a Rocky catalog, a SQL model's blast radius comes from reading the other models
of the repository, and all their text is kept while the scan runs. Each file may be 1 MB,
and a file full of nothing is free to ship (sparse): 2,000 of them in a 76 KB tarball
made any SQL review hold as much as the disk gave in the scan's 1.5 s (630 MB here, up
to 2 GB). The scan now stops keeping text at 64 MB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.security.counts import record

_PEAK = """
import sys
from pathlib import Path
from fuse_ls.context import find_blast_radius
root = Path(sys.argv[1])
print(find_blast_radius(root / "models" / "orders.sql", root))
status = Path("/proc/self/status").read_text()
print(status.split("VmHWM:")[1].split()[0])
"""


def test_sparse_models_cannot_fill_memory(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "orders.sql").write_text("select id from raw_orders\n")
    (models / "aa_reader.sql").write_text("select id from orders\n")  # found before the rest
    for i in range(2000):
        with (models / f"m{i:04}.sql").open("wb") as f:
            f.truncate(1_000_000)  # just under the 1 MB a model may have
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    blast, peak_kb = done.stdout.splitlines()
    assert int(peak_kb) < 300 * 1024, f"peak resident memory {int(peak_kb) // 1024} MB"
    # The reader is still found: the scan stops keeping text, not looking.
    assert blast == "Downstream: aa_reader (id) (found in models/, partial scan)", blast
    record("sparse SQL models: scan peak memory (MB)", int(peak_kb) // 1024)
