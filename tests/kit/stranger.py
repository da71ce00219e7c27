"""A stranger's fresh meltano project, made the way the README tells a new user to."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.kit.meltano_kit import MELTANO
from tests.kit.must_run import unavailable
from tests.kit.paths import ROOT

DEFINITION = ROOT / "plugin" / "extractors" / "tap-activities.yml"
"""The published plugin definition, as users add it to their projects."""


def head_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        unavailable(f"{ROOT} is not a git clone: {result.stderr.strip()}")
    return result.stdout.strip()


class Stranger:
    """A fresh meltano project in a temporary folder, and how to run meltano in it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.project = home / "nightly"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))}
        env.pop("MELTANO_DATABASE_URI", None)
        if "TAP_ACTIVITIES_NATIVE" in os.environ:  # CI: a build without the native pass fails
            env["TAP_ACTIVITIES_NATIVE"] = os.environ["TAP_ACTIVITIES_NATIVE"]
        env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        env["MELTANO_HUB_URL"] = "http://127.0.0.1:9"  # closed: nothing may need the Hub
        # As in many container images: Python never writes bytecode at run time, so only
        # what the installer compiled is there (the README's start-up advice).
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env = env

    def meltano(self, *args: str, env: dict[str, str] | None = None) -> str:
        """``meltano ARGS`` in the project (the home folder for ``init``): stdout and stderr."""
        result = self.process(*args, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-6000:]}"
        return output

    def process(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``meltano ARGS`` in the project, whatever its exit status."""
        cwd = self.project if self.project.exists() else self.home
        return subprocess.run(
            [str(MELTANO), *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def set_pip_url(self, plugin: str, pip_url: str) -> None:
        """Change one plugin's ``pip_url`` line in meltano.yml, as a user does in an editor."""
        path = self.project / "meltano.yml"
        text = path.read_text()
        pattern = re.compile(rf"(  - name: {re.escape(plugin)}\n(?:    .*\n)*?    pip_url: ).*")
        text, count = pattern.subn(lambda m: m.group(1) + pip_url, text, count=1)
        assert count == 1, f"no pip_url line for {plugin} in meltano.yml"
        path.write_text(text)

    def add_project_env(self, name: str, value: str) -> None:
        """A top-level ``env:`` entry in meltano.yml, as the README advises."""
        path = self.project / "meltano.yml"
        text = path.read_text()
        assert "\nenv:" not in text, "meltano init wrote an env block already"
        path.write_text(f"{text.rstrip()}\nenv:\n  {name}: '{value}'\n")

    def site_packages(self, kind: str, plugin: str) -> Path:
        """The plugin's installed packages, in the project's ``.meltano``."""
        venv = self.project / ".meltano" / kind / plugin / "venv"
        (found,) = venv.glob("lib/python3*/site-packages")
        return found


def tap_log(output: str) -> list[dict]:
    """The tap's log events in meltano's ``--log-format=json`` output, each with its level."""
    events = []
    for line in output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            # meltano run names the plugin ("name"); meltano invoke only the logger of a
            # line it parsed ("plugin_logger").
            ours = "tap-activities" in (event.get("name"), event.get("plugin_logger"))
            if ours and event.get("stdio") == "stderr":
                events.append(event)
    assert events, f"no log line of the tap in:\n{output[-3000:]}"
    return events
