"""The dbt project as Dagster sees it, prepared once per process.

``dagster dev`` (DAGSTER_IS_DEV_CLI set) re-parses the project on every load so a
model edit shows up after "Reload definitions". Anywhere else the manifest is
parsed only when it is missing (a fresh checkout, a test run); a deployment
ships one built by ``dagster-dbt project prepare-and-package``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dagster_dbt import DbtProject

from journey_atc.dbt import PROJECT_DIR, dbt_executable

# Dagster's dbt artifacts live apart from the CLI's target/ so the two never
# overwrite each other's manifest.
TARGET_PATH = Path("target") / "dagster"


def make_project(project_dir: Path = PROJECT_DIR) -> DbtProject:
    """A prepared DbtProject for ``project_dir`` (the repository's own by default).

    Preparing runs ``dbt parse`` under a file lock, so two processes starting at
    once (test workers, the webserver and the daemon) never write one manifest
    concurrently.
    """
    project_dir = Path(project_dir).resolve()
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir, target_path=TARGET_PATH)
    (project_dir / TARGET_PATH).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    _put_dbt_on_path()
    with open(project_dir / TARGET_PATH / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            project.prepare_if_dev()
            if _manifest_is_stale(project):
                project.preparer.prepare(project)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return project


def _manifest_is_stale(project: DbtProject) -> bool:
    """Missing, or older than a file dbt reads (a pull or an edit since the last parse)."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = Path(project.project_dir)
    sources = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("dbt_project", "seeds"):
        sources += [p for p in (root / folder).rglob("*") if p.suffix in (".sql", ".yml", ".yaml", ".csv")]
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


def _put_dbt_on_path() -> None:
    """dagster-dbt's own parse step looks dbt up on PATH: make it find this venv's dbt."""
    bin_dir = str(Path(dbt_executable()).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir


DBT_EXECUTABLE = dbt_executable()
