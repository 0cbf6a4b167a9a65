"""The Dockerfile and the deployment docs, checked by reading them (no container engine here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.cli import environment_variables

REPO = Path(__file__).resolve().parents[1]
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|python3?-dev|libc6?-dev)\b")


@dataclass
class Stage:
    """One FROM section: its base image and its instructions in order."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the final stage has no {keyword}"
        return found[-1]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of (KEYWORD, arguments), continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            parts = rest.split()
            stage_name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, stage_name))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    """The stage's ENV assignments (KEY=VALUE form)."""
    out: dict[str, str] = {}
    for args in stage.all("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            out[key] = value
    return out


def cli_variables() -> set[str]:
    """Every GATEWAY_ variable `gateway serve` reads."""
    return set(environment_variables())


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((REPO / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


class TestDockerfile:
    def test_multi_stage_on_slim_bases(self, stages: list[Stage]) -> None:
        """A build stage and a run stage, both on a slim Python image."""
        assert len(stages) >= 2
        for stage in stages:
            assert stage.image.startswith("python:") and "slim" in stage.image, stage.image

    def test_final_stage_has_no_compilers_and_no_sources(self, final: Stage) -> None:
        """The run stage installs no build tools and copies only the venv and the rules."""
        for run in final.all("RUN"):
            assert "apt-get install" not in run and "apk add" not in run, run
            assert not COMPILERS.search(run), run
        for copy in final.all("COPY"):
            assert copy.startswith("--from=") or copy.split()[0] == "rules.yaml", copy

    def test_runs_as_a_numeric_non_root_user(self, final: Stage) -> None:
        """USER is a numeric uid other than 0, which runAsNonRoot can verify."""
        user = final.last("USER").split(":")[0]
        assert user.isdigit() and int(user) != 0

    def test_healthcheck_probes_healthz_on_the_configured_port(self, final: Stage) -> None:
        """HEALTHCHECK asks /healthz on GATEWAY_PORT."""
        check = final.last("HEALTHCHECK")
        assert "/healthz" in check and "GATEWAY_PORT" in check

    def test_entrypoint_is_gateway_serve(self, final: Stage) -> None:
        """The container runs `gateway serve`, in exec form so it receives SIGTERM itself."""
        assert json.loads(final.last("ENTRYPOINT")) == ["gateway", "serve"]

    def test_listens_on_all_interfaces_at_the_exposed_port(self, final: Stage) -> None:
        """GATEWAY_HOST is 0.0.0.0 and GATEWAY_PORT is the port EXPOSE declares."""
        env = env_of(final)
        assert env["GATEWAY_HOST"] == "0.0.0.0"
        assert env["GATEWAY_PORT"] in final.last("EXPOSE").split()

    def test_configured_through_known_gateway_variables(self, final: Stage) -> None:
        """Every GATEWAY_ variable the image sets is one `gateway serve` reads."""
        env = env_of(final)
        assert {key for key in env if key.startswith("GATEWAY_")} <= cli_variables()

    def test_rules_file_is_a_mountable_path(self, final: Stage) -> None:
        """GATEWAY_CONFIG names the bundled rules.yaml in a directory a mount can replace."""
        config = env_of(final)["GATEWAY_CONFIG"]
        assert config.startswith("/etc/gateway/")
        assert any(copy.split()[-1] == config for copy in final.all("COPY"))

    def test_build_context_leaves_local_state_out(self) -> None:
        """.dockerignore keeps the venv, git and databases out of the build context."""
        ignored = (REPO / ".dockerignore").read_text().split()
        assert {".git", ".venv", "*.db"} <= set(ignored)


class TestDeployDocs:
    def test_every_cli_variable_is_in_the_deploy_table(self) -> None:
        """docs/deploy.md lists every GATEWAY_ variable gateway/cli.py reads."""
        docs = (REPO / "docs" / "deploy.md").read_text()
        missing = sorted(v for v in cli_variables() if f"`{v}`" not in docs)
        assert not missing, f"add these to the table in docs/deploy.md: {missing}"

    def test_readme_documents_the_metrics_token(self) -> None:
        """The README's configuration table has the metrics token row."""
        readme = (REPO / "README.md").read_text()
        assert "`--metrics-token`" in readme and "`GATEWAY_METRICS_TOKEN`" in readme
