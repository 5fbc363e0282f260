"""The cluster examples (docker/ray-cluster.yaml, docker/kuberay-synth.yaml, README's "Running on clusters") cannot
run here: check that they parse, run the images the Dockerfiles build, and that every command in them (synth,
train-vmae, eval-vmae, torchrun, ray start) parses with that program's own parser, flag names spelled out in full.
"""
from __future__ import annotations

import argparse
import copy
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "docker" / "ray-cluster.yaml"
KUBERAY = ROOT / "docker" / "kuberay-synth.yaml"
# A command starts a line (or a comment) or a quoted string and runs to the line's end or the closing quote.
COMMAND = re.compile(r"""(?:^|["'])\s*((?:synth|train-vmae|eval-vmae|torchrun|ray start)\s[^"'\n]*)""")


def image_name(dockerfile: str) -> str:
    """The tag that the Dockerfile's header comment builds, e.g. pseudomotion-synth."""
    return re.search(r"docker build .*-t (\S+) \.", (ROOT / "docker" / dockerfile).read_text()).group(1)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def commands(texts: Iterator[str]) -> list[list[str]]:
    """Every command line found in texts (YAML values, comment lines, README code), split as a shell would."""
    found = []
    for text in texts:
        for line in text.replace("\\\n", " ").splitlines():  # a command continued with a backslash is one line
            for match in COMMAND.finditer(line.strip().lstrip("#").strip()):
                found.append(shlex.split(match.group(1)))
    return found


def yaml_commands(path: Path) -> list[list[str]]:
    text = path.read_text()
    comments = "\n".join(line.lstrip()[1:] for line in text.splitlines() if line.lstrip().startswith("#"))
    return commands(iter([*strings(yaml.safe_load(text)), comments]))


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.M | re.S)


def options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of parser and its sub-commands."""
    found = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= options(sub)
    return found


def check_with(parser: argparse.ArgumentParser, args: list[str], line: str) -> None:
    """parse_args accepts args, and no flag is an abbreviation that argparse would quietly expand."""
    try:
        parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{line}: the parser refuses it (see the usage error above)")
    known = options(parser)
    for flag in (a.split("=")[0] for a in args if a.startswith("--")):
        if flag not in known:
            pytest.fail(f"{line}: {flag} is not a flag of {parser.prog} (argparse took it as an abbreviation)")


def check_command(args: list[str]) -> None:
    """Dispatch one command line to the parser of the program it runs."""
    from eval import cli as eval_cli
    from synth.cli import build_parser
    from train.cli import export_parser, train_parser

    line = shlex.join(args)
    program, rest = args[0], args[1:]
    if program == "synth":
        check_with(build_parser(), rest, line)
    elif program == "train-vmae":
        exporting = rest[:1] == ["export"]
        check_with(export_parser() if exporting else train_parser(), rest[1:] if exporting else rest, line)
    elif program == "eval-vmae":
        assert rest and rest[0] in eval_cli.COMMANDS, f"{line}: not an eval-vmae command"
        parser = eval_cli.report_parser() if rest[0] == "report" else eval_cli.run_parser(rest[0])
        check_with(parser, rest[1:], line)
    elif program == "torchrun":
        from torch.distributed.run import get_args_parser

        run = get_args_parser().parse_args(rest)
        assert run.module and run.training_script in ("train.cli", "eval.cli"), f"{line}: runs -m train.cli/eval.cli"
        check_command([{"train.cli": "train-vmae", "eval.cli": "eval-vmae"}[run.training_script],
                       *run.training_script_args])
    else:  # ray start
        import click
        from ray.scripts.scripts import start

        try:
            start.make_context("ray start", rest[1:])
        except click.ClickException as e:
            pytest.fail(f"{line}: {e.format_message()}")


def test_the_launcher_config_is_one_ray_up_accepts() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(LAUNCHER.read_text())
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` does with it first
    assert config["docker"]["image"].split("/")[-1].split(":")[0] == image_name("synth.Dockerfile")
    assert "--entrypoint=" in config["docker"]["run_options"]  # `docker run IMAGE bash` must not run `synth bash`


def test_the_kuberay_job_runs_synth_render_on_synth_images() -> None:
    job = yaml.safe_load(KUBERAY.read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]["rayClusterSpec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    images = {c["image"].split("/")[-1].split(":")[0] for g in groups for c in g["template"]["spec"]["containers"]}
    assert images == {image_name("synth.Dockerfile")}
    assert job["spec"]["entrypoint"].startswith("synth render ") and "--ray-address auto" in job["spec"]["entrypoint"]
    for group in groups:  # KubeRay passes rayStartParams to `ray start` as --KEY=VALUE
        check_command(["ray", "start", *(f"--{k}={v}" for k, v in group["rayStartParams"].items())])


@pytest.mark.parametrize("path", [LAUNCHER, KUBERAY], ids=lambda p: p.name)
def test_every_command_in_the_configs_parses(path: Path) -> None:
    found = yaml_commands(path)
    assert any(c[:2] == ["synth", "render"] for c in found)
    for args in found:
        check_command(args)


def test_every_command_in_the_readme_cluster_section_parses() -> None:
    section = readme_section("Running on clusters")
    found = commands(iter(code_blocks(section)))
    assert {c[0] for c in found} >= {"synth", "torchrun"}
    for args in found:
        check_command(args)
    for dockerfile in ("synth.Dockerfile", "train.Dockerfile"):
        assert image_name(dockerfile) in section


def test_a_renamed_flag_is_caught() -> None:
    with pytest.raises(pytest.fail.Exception, match="--num-video"):
        check_command(["synth", "render", "--images", "fractal", "--out", "o", "--num-video", "3"])  # abbreviation
    with pytest.raises(pytest.fail.Exception):
        check_command(["torchrun", "--nproc_per_node", "2", "-m", "train.cli", "--shards", "s", "--out", "o",
                       "--batch", "8", "--no-such-flag"])
    with pytest.raises(pytest.fail.Exception, match="does not take a value"):
        check_command(["ray", "start", "--disable-usage-stats=true"])
