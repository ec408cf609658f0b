"""The production stack description is valid, and the image holds what the product needs at run time."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat", "flower")


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


needs_compose = pytest.mark.skipif(
    compose_command() is None, reason="no docker compose client (.ci/run installs one)"
)


def compose_config() -> dict:
    result = subprocess.run(
        [*compose_command(), "--profile", "monitoring", "config"],  # type: ignore[misc]
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@needs_compose
def test_docker_compose_config_is_valid() -> None:
    config = compose_config()
    services = config["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "mailpit"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["redis"]["healthcheck"]["test"])


@needs_compose
def test_every_app_service_runs_a_real_command_with_real_settings() -> None:
    services = compose_config()["services"]
    settings_variables = {f"NEWSLETTER_{name.upper()}" for name in Settings.model_fields}
    for name in APP_SERVICES:
        service = services[name]
        command = service["command"]
        command = shlex.split(command) if isinstance(command, str) else command
        if command[0] == "newsletter":
            result = CliRunner().invoke(app, [*command[1:], "--help"])
            assert result.exit_code == 0, (name, result.output)
        else:
            assert command[:3] == ["celery", "-A", "workers.celery_app"], name
        environment = service["environment"]
        assert set(environment) <= settings_variables, (name, set(environment) - settings_variables)
        assert "@postgres:5432/" in environment["NEWSLETTER_DATABASE_URL"]
        assert environment["NEWSLETTER_REDIS_URL"].startswith("redis://redis:6379")
        assert environment["NEWSLETTER_ENVIRONMENT"] == "production"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_the_image_installs_the_monitoring_extra_flower_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("flower") for requirement in extras["monitoring"])
    runs = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert ".[monitoring]" in runs


def test_the_image_holds_everything_the_product_reads_at_run_time(tmp_path: Path) -> None:
    """Rebuild the image's /app from the Dockerfile's COPY lines and run the product from it alone."""
    instructions = dockerfile_instructions()
    [workdir] = [rest for keyword, rest in instructions if keyword == "WORKDIR"]
    assert workdir == "/app"
    # alembic/, alembic.ini and templates/ sit beside the package, found relative to newsletter/:
    # the package must run from /app (editable install), not from a copy in site-packages.
    runs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    assert runs and all(re.search(r"pip install (-e|--editable) ", run) for run in runs), runs

    image_root = tmp_path / "app"
    image_root.mkdir()
    for keyword, rest in instructions:
        if keyword != "COPY":
            continue
        *sources, destination = shlex.split(rest)
        target = image_root / destination.removeprefix("./").rstrip("/")
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)

    probe = r"""
import json, sys
from pathlib import Path
import newsletter, workers
from alembic.script import ScriptDirectory
from newsletter import migrations
from newsletter.mail import render
from newsletter.sources import samplefeed
from newsletter.tagging.taxonomy import load_taxonomy
from newsletter.tagging.lexicon import load_lexicon
from newsletter.tagging import tag_topics
from newsletter.web import app as web_app, assets, pages
import workers.celery_app

root = Path(sys.argv[1])
script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+psycopg://unused@/unused"))
print(json.dumps({
    "package": newsletter.__file__,
    "workers": workers.__file__,
    "heads": list(script.get_heads()),
    "email_templates": sorted(p.name for p in render.TEMPLATE_DIR.glob("*.mjml")),
    "web_templates": sorted(p.name for p in pages.TEMPLATE_DIR.glob("*.html")),
    "static": sorted(p.name for p in assets.STATIC_DIR.iterdir()),
    "sample_feed": sorted(str(p.relative_to(samplefeed.SAMPLE_FEED_DIR)) for p in samplefeed.SAMPLE_FEED_DIR.rglob("*.*")),
    "topics": len(load_taxonomy()),
    "lexicon": len(load_lexicon()),
    "tags": tag_topics("Evicting the KV cache", "Large language model inference with less memory."),
}))
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NEWSLETTER_", "PYTHON"))}
    # Ahead of the checkout's own editable install: the copy is what gets imported.
    env["PYTHONPATH"] = str(image_root)
    result = subprocess.run(
        [sys.executable, "-c", probe, str(image_root)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["package"].startswith(str(image_root)) and found["workers"].startswith(str(image_root))
    assert found["heads"]
    assert found["email_templates"] == sorted(p.name for p in (ROOT / "templates" / "email").glob("*.mjml"))
    assert found["web_templates"] == sorted(p.name for p in (ROOT / "templates" / "web").glob("*.html"))
    assert found["email_templates"] and found["web_templates"] and found["static"]
    assert found["sample_feed"]
    assert found["topics"] == 15 and found["lexicon"] > 0
    # The embedding model and the trained tagger ship inside the package.
    assert 1 <= len(found["tags"]) <= 3
