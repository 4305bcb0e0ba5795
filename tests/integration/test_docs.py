"""The docs are checked like code: links, anchors, code blocks, the benchmark index.

Checked in every Markdown page of the project (README.md, docs/**/*.md, benchmarks/README.md):

* every relative link resolves to a file inside the repository, and every ``#anchor`` to a
  heading (GitHub's slugs) or an ``<a id="...">`` of the target page; nothing points into
  ``../shared`` or elsewhere outside the repository; external links go only to the paper and
  upstream projects (:data:`EXTERNAL_HOSTS`);
* code blocks: every ```` ```python ```` block compiles; it also **runs** (offline, in a
  temporary folder, the blocks of one page in order in one namespace, like a doctest session)
  unless its info string is ```` ```python no-run ```` (real providers, clusters, shared
  data). Tracebacks point at the Markdown line. Bash blocks are not run, but every
  ``smoothie ...`` command in them must parse with the real command line (unknown flags
  fail) and every ``benchmarks/``, ``notebooks/``, ``examples/`` or ``tests/`` path in them
  must exist;
* no placeholder text and no machine paths;
* README.md keeps its shape (at most 200 lines, the two set-up commands first);
* every file in ``benchmarks/results/`` follows the schema of ``benchmarks/_results.py`` and is
  indexed in ``benchmarks/README.md``; no benchmark script hard-codes a machine path.

Pages written on other branches and linked before they are merged are listed in
:data:`PENDING`; a link to one of them is reported as a skip (``pytest -ra``) while the page is
missing and checked like any other link once it exists. Remove entries as pages land.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    p
    for p in [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").rglob("*.md")]
    if p.exists()
)
#: Pages other engineers write on their branches, linked before they are merged.
PENDING: set[str] = set()
#: Hosts external links may point to: the paper and the upstream projects.
EXTERNAL_HOSTS = {
    "arxiv.org",
    "github.com",
    "docs.langchain.com",
    "python.langchain.com",
    "developers.llamaindex.ai",
    "docs.llamaindex.ai",
    "sbert.net",
    "www.sbert.net",
    "huggingface.co",
    "pypi.org",
    "pytorch.org",
    "docs.ray.io",
    "faiss.ai",
}
PLACEHOLDERS = re.compile(r"HASWELL_LINE|\bTODO\b|\bTBD\b|\bFIXME\b|XXX|lorem ipsum", re.I)
MACHINE_PATHS = re.compile(r"/work/|/home/\w|/Users/\w")

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    info: str
    code: str

    @property
    def lang(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def runs(self) -> bool:
        return self.lang == "python" and "no-run" not in self.info.split()[1:]

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.line}"


def split_page(page: Path) -> tuple[list[tuple[int, str]], list[Block]]:
    """``(prose lines with their numbers, fenced code blocks)`` of a Markdown page."""
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, info = m.group(2), m.group(3).strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        assert j < len(lines), f"{rel(page)}:{i + 1}: code fence never closed"
        blocks.append(Block(page, i + 2, info, "\n".join(body) + "\n"))
        i = j + 1
    return prose, blocks


def strip_code_spans(line: str) -> str:
    return re.sub(r"(`+).+?\1", "", line)


def slug(text: str) -> str:
    """GitHub's anchor for a heading text."""
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    prose, _ = split_page(page)
    seen: dict[str, int] = {}
    out: set[str] = set()
    for _, line in prose:
        out.update(HTML_ANCHOR.findall(line))
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(page: Path) -> list[tuple[int, str]]:
    prose, _ = split_page(page)
    out: list[tuple[int, str]] = []
    for lineno, line in prose:
        text = strip_code_spans(line)
        out.extend((lineno, t) for t in LINK.findall(text))
        out.extend((lineno, t) for t in IMAGE.findall(text))
        m = REF_DEF.match(text)
        if m:
            out.append((lineno, m.group(1)))
    return out


def page_id(page: Path) -> str:
    return rel(page)


# ------------------------------------------------------------------------------ links
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_links_and_anchors_resolve(page: Path) -> None:
    problems: list[str] = []
    pending: list[str] = []
    for lineno, target in links(page):
        where = f"{rel(page)}:{lineno}: {target}"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # a scheme: external
            host = re.sub(r"^[a-z]+://", "", target, flags=re.I).split("/")[0].lower()
            if not target.lower().startswith("https://") or host not in EXTERNAL_HOSTS:
                problems.append(
                    f"{where}: external links go to the paper or an upstream project over "
                    f"https ({sorted(EXTERNAL_HOSTS)}); move the content into docs/ or add the host"
                )
            continue
        path_part, _, fragment = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if "shared/" in path_part or not dest.is_relative_to(ROOT):
            problems.append(
                f"{where}: points outside the repository (a user who clones it does not have "
                "it); move what users need into docs/"
            )
            continue
        if not dest.exists():
            if rel(dest) in PENDING:
                pending.append(where)
            else:
                problems.append(f"{where}: {rel(dest)} does not exist")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            problems.append(
                f"{where}: no heading or <a id> gives #{fragment} in {rel(dest)}; "
                f"anchors there: {sorted(anchors(dest))}"
            )
    assert not problems, "\n".join(problems)
    if pending:
        pytest.skip("links to pages of unmerged branches (PENDING): " + "; ".join(pending))


def test_pages_exist_and_docs_are_all_linked() -> None:
    """Every docs page is reachable from README.md or docs/index.md."""
    assert (ROOT / "docs" / "index.md").exists()
    linked: set[str] = set()
    for hub in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        for _, target in links(hub):
            path_part = target.partition("#")[0]
            if path_part and "://" not in path_part:
                dest = (hub.parent / path_part).resolve()
                if dest.is_relative_to(ROOT):
                    linked.add(rel(dest))
    orphans = [rel(p) for p in (ROOT / "docs").rglob("*.md") if rel(p) not in linked]
    orphans = [
        o for o in orphans if not o.startswith("docs/evaluation/") or o.endswith("README.md")
    ]
    assert not orphans, f"docs pages linked from neither README.md nor docs/index.md: {orphans}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_placeholders_or_machine_paths(page: Path) -> None:
    bad = [
        f"{rel(page)}:{n}: {line.strip()}"
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
        if PLACEHOLDERS.search(line) or MACHINE_PATHS.search(line)
    ]
    assert not bad, "placeholders or one machine's paths:\n" + "\n".join(bad)


def test_readme_shape() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200, "README.md is the front page: at most 200 lines"
    _, blocks = split_page(ROOT / "README.md")
    first = blocks[0]
    assert first.lang == "bash"
    assert first.code.split("\n")[:2] == ["make demo", "make test"], (
        "the README's first code block must be the two set-up commands, `make demo` then "
        "`make test` (CI and readers look for them)"
    )
    assert "arxiv.org/abs/2412.04692" in text


# ------------------------------------------------------------------------- code blocks
def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in split_page(page)[1]]


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.lang == "python"], ids=lambda b: b.where
)
def test_python_blocks_compile(block: Block) -> None:
    compile("\n" * (block.line - 1) + block.code, rel(block.page), "exec")


RUN_PAGES = sorted({b.page for b in all_blocks() if b.runs})


#: Runs a page's blocks in order in one namespace; tracebacks name the Markdown file and line.
RUNNER = """
import json, sys, warnings
warnings.simplefilter("ignore")  # a page may show a warning on purpose
namespace = {"__name__": "__main__"}
for path, line, code in json.load(sys.stdin):
    exec(compile("\\n" * (line - 1) + code, path, "exec"), namespace)
"""


@pytest.mark.parametrize("page", RUN_PAGES, ids=page_id)
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    """The page's runnable blocks, as one script, in a fresh process and a temporary folder
    (a page may register methods or set globals; nothing leaks into other tests)."""
    blocks = [(rel(b.page), b.line, b.code) for b in split_page(page)[1] if b.runs]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SMOOTHIE_CACHE_DIR": str(tmp_path / "cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(blocks),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, f"a code block of {rel(page)} failed:\n{out.stderr[-4000:]}"


# ----------------------------------------------------------------------- bash blocks
def shell_commands(code: str) -> list[list[str]]:
    """Each command of a bash block as words (continuations joined, comments dropped,
    ``VAR=value`` prefixes removed, split at ``&&``, ``||``, ``;`` and ``|``)."""
    out: list[list[str]] = []
    for line in re.sub(r"\\\n", " ", code).splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:
            continue
        words: list[str] = []
        for token in [*tokens, ";"]:
            if token and set(token) <= set("&|;()<>"):
                while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                    words = words[1:]
                if words:
                    out.append(words)
                words = []
            else:
                words.append(token)
    return out


def _smoothie_parser() -> argparse.ArgumentParser:
    from smoothie_core.cli import build_parser

    return build_parser(load_plugins=True)


BASH = [b for b in all_blocks() if b.lang in ("bash", "sh", "shell", "console")]


@pytest.mark.parametrize("block", BASH, ids=lambda b: b.where)
def test_bash_commands_parse_and_paths_exist(block: Block) -> None:
    parser = _smoothie_parser()
    problems: list[str] = []
    for words in shell_commands(block.code):
        for word in words:
            m = re.match(r"^(benchmarks|notebooks|examples|tests)/[\w./-]*[\w/]", word)
            if m and "*" not in word and not (ROOT / m.group(0)).exists():
                problems.append(f"{block.where}: {m.group(0)} does not exist")
        if Path(words[0]).name != "smoothie":
            continue
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                parser.parse_args(words[1:])
            except SystemExit as exc:
                if exc.code not in (0, None):
                    problems.append(f"{block.where}: `{shlex.join(words)}`: {err.getvalue()}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------- benchmarks
def _results_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_bench_results", ROOT / "benchmarks" / "_results.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_bench_results", module)
    spec.loader.exec_module(module)
    return module


RESULT_FILES = sorted(p for p in (ROOT / "benchmarks" / "results").iterdir() if p.is_file())


@pytest.mark.parametrize(
    "path", [p for p in RESULT_FILES if p.suffix == ".json"], ids=lambda p: p.name
)
def test_result_files_follow_the_schema(path: Path) -> None:
    doc = _results_module().load_result(path)
    assert doc["name"] == path.stem


def test_every_result_file_is_indexed() -> None:
    index = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    targets = {
        (ROOT / "benchmarks" / t.partition("#")[0]).resolve()
        for _, t in links(ROOT / "benchmarks" / "README.md")
    }
    missing = [p.name for p in RESULT_FILES if p.resolve() not in targets]
    assert not missing, f"benchmarks/README.md does not link these result files: {missing}"
    for p in RESULT_FILES:
        if p.suffix == ".json":
            doc = _results_module().load_result(p)
            # the index states the command, date and commit each file records
            assert doc["commit"] is None or doc["commit"][:7] in index, (
                f"benchmarks/README.md does not give {p.name}'s commit {doc['commit'][:7]}"
            )
            assert doc["date_utc"][:10] in index, p.name


def test_benchmark_scripts_have_no_machine_paths() -> None:
    bad = [
        f"{rel(p)}:{n}"
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
        if MACHINE_PATHS.search(line)
    ]
    assert not bad, f"one machine's absolute paths (make them options): {bad}"


def test_save_result_round_trip_and_rejects_bad_files(tmp_path: Path) -> None:
    results = _results_module()
    path = results.save_result(
        "demo_bench",
        {"x": [1, 2]},
        command=["benchmarks/x.py", "--n", "3"],
        out=tmp_path / "r.json",
    )
    doc = results.load_result(path)
    assert doc["results"] == {"x": [1, 2]}
    assert doc["command"] == "python benchmarks/x.py --n 3"
    assert doc["schema"] == 1 and "loadavg_end" in doc["machine"]
    (tmp_path / "old.json").write_text('{"rows": []}')
    with pytest.raises(ValueError, match="missing"):
        results.load_result(tmp_path / "old.json")
    with pytest.raises(ValueError, match="Out of range float values"):
        results.save_result("nan", {"x": float("nan")}, out=tmp_path / "n.json")
    assert not (tmp_path / "n.json").exists()
