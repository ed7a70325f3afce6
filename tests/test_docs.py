"""The documentation: the site builds offline with ``mkdocs build --strict`` (a broken link or a missing docstring on
the public ``geocsp`` surface fails it), its marked code snippets run, and the README starts with the two commands.

A snippet is tested when an HTML comment stands right before its fenced block:
``<!-- test [requires=MODULE,...] [run=PATH] -->``. The marked snippets of one page run in order in subprocesses,
in one temporary folder (the repository on ``PYTHONPATH``, this interpreter's ``bin`` first on ``PATH``):
``bash`` blocks each with ``bash -e``, consecutive ``python`` blocks in one interpreter, each in fresh globals. ``requires`` names modules the
snippet needs (the page is skipped, naming them, while one is missing); ``run`` puts a small trained CSP
pre-training run at that path in the folder first.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARKED_BLOCK = re.compile(r"^<!-- test(?P<options>[^>]*?)-->\n```(?P<lang>\w+)\n(?P<code>.*?)^```$", re.M | re.S)
LANGUAGES = {"python": "py", "bash": "sh"}
#: The location encoder of the snippets' trained run: small, so that it trains in a fraction of a second.
SMALL_RECIPE = {"encoding": "theory", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}
#: mkdocs 1.6 and Material print a banner about their future on every build; it says nothing about ours.
QUIET = {"NO_MKDOCS_2_WARNING": "1"}


@dataclass(frozen=True)
class Snippet:
    """A marked code block of a docs page."""

    page: str
    lang: str
    code: str
    requires: tuple[str, ...] = ()
    run: str | None = None


def snippets(text: str, page: str) -> list[Snippet]:
    """The marked snippets of a Markdown page, in order; ValueError names an unknown option or language, or a
    marker with no fenced block right after it."""
    found = []
    for match in MARKED_BLOCK.finditer(text):
        options = dict(item.split("=", 1) for item in match["options"].split())
        if unknown := set(options) - {"requires", "run"}:
            raise ValueError(f"{page}: unknown snippet option(s) {sorted(unknown)}")
        if match["lang"] not in LANGUAGES:
            raise ValueError(f"{page}: a marked {match['lang']!r} block; only {sorted(LANGUAGES)} run")
        requires = tuple(filter(None, options.get("requires", "").split(",")))
        found.append(Snippet(page, match["lang"], match["code"], requires, options.get("run")))
    if len(re.findall(r"^<!-- test\b", text, re.M)) != len(found):
        raise ValueError(f"{page}: a <!-- test --> marker that is not right before a fenced block would test nothing")
    return found


def missing_modules(names: list[str] | tuple[str, ...]) -> list[str]:
    """The modules among ``names`` that cannot be imported here (a missing parent package counts as missing)."""
    def absent(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is None
        except ModuleNotFoundError:
            return True

    return sorted({name for name in names if absent(name)})


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``site``, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent, capture_output=True, text=True, env={**os.environ, **QUIET}, timeout=300,
    )


def geocsp_exports() -> dict[str, str]:
    """``geocsp``'s public names and the modules they come from."""
    import geocsp

    return dict(geocsp._EXPORTS)


PAGES = sorted(page.name for page in DOCS.glob("*.md") if MARKED_BLOCK.search(page.read_text()))


def test_snippet_markers_are_read_with_their_options():
    text = (
        "<!-- test requires=a.b,c run=runs/x -->\n```bash\necho hi\n```\n\n```python\nprint('unmarked')\n```\n"
        "<!-- test -->\n```python\nprint(1)\n```\n"
    )
    assert snippets(text, "p.md") == [
        Snippet("p.md", "bash", "echo hi\n", ("a.b", "c"), "runs/x"), Snippet("p.md", "python", "print(1)\n"),
    ]
    bash, python, run, more = (Snippet("p.md", "bash", ""), Snippet("p.md", "python", ""),
                               Snippet("p.md", "python", "", run="r"), Snippet("p.md", "python", ""))
    assert batches([bash, python, python, run, more, bash]) == [
        [(0, bash)], [(1, python), (2, python)], [(3, run), (4, more)], [(5, bash)],
    ]
    with pytest.raises(ValueError, match="unknown snippet option"):
        snippets("<!-- test needs=x -->\n```python\npass\n```\n", "p.md")
    with pytest.raises(ValueError, match="not right before a fenced block"):
        snippets("<!-- test -->\n\n```python\npass\n```\n", "p.md")
    with pytest.raises(ValueError, match="'json' block"):
        snippets("<!-- test -->\n```json\n{}\n```\n", "p.md")


def test_the_site_builds_offline_with_strict_and_documents_the_geocsp_surface(tmp_path):
    result = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    pages = {path.relative_to(tmp_path / "site"): path.read_text() for path in (tmp_path / "site").rglob("*.html")}
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.I)
    assert not {str(path) for path, html in pages.items() if remote.search(html)}, "pages load assets from the web"
    api = pages[Path("api/index.html")]
    present = [name for name, module in geocsp_exports().items() if not missing_modules([module])]
    for name in present:
        assert f'id="geocsp.{name}"' in api, f"the API reference lacks geocsp.{name}"


def test_a_broken_link_or_a_missing_public_docstring_fails_the_build(tmp_path):
    """The same configuration on a miniature project: ``geocsp`` exporting an undocumented function, and a page
    linking to a page that does not exist."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text('"""Core."""\n')
    (tmp_path / "core" / "tools.py").write_text('"""Tools."""\n\n\ndef documented():\n    """Yes."""\n\n\ndef bare():\n    pass\n')
    (tmp_path / "geocsp").mkdir()
    exports = {"documented": "core.tools", "bare": "core.tools"}
    (tmp_path / "geocsp" / "__init__.py").write_text(f'"""Public."""\n\n_EXPORTS = {exports!r}\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [the missing page](missing.md).\n")
    (tmp_path / "docs" / "api.md").write_text("# API\n\n::: geocsp\n")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["nav"] = [{"Home": "index.md"}, {"API": "api.md"}]
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    python["options"]["extensions"] = [str(DOCS / "_ext" / "geocsp_surface.py") + ":GeocspSurface"]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))

    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "core.tools.bare has no docstring" in output and "core.tools.documented" not in output
    assert "'missing.md'" in output


def test_every_geocsp_name_imports_with_a_docstring_and_import_geocsp_stays_cheap():
    exports = geocsp_exports()
    assert sorted(exports) == sorted(__import__("geocsp").__all__)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, geocsp; print(sorted(m for m in sys.modules if m.split('.')[0] in ('core', 'torch')))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    assert loaded.strip() == "['core', 'core.lazy_exports']", "import geocsp must import nothing heavy"
    import geocsp

    assert not missing_modules(list(exports.values()))
    for name in exports:
        assert getattr(geocsp, name).__doc__, f"geocsp.{name} has no docstring"


@pytest.fixture
def trained_run(request, tmp_path_factory):
    """A factory putting a small trained CSP pre-training run (1 epoch on the small real dataset) at a path."""
    made: dict[str, Path] = {}

    def make(path: Path) -> None:
        from core.train.config import RunConfig
        from core.train.runner import run

        if "run" not in made:
            data = request.getfixturevalue("small_data")
            config = RunConfig.from_dict({"stage": "pretrain", "epochs": 1, "location": SMALL_RECIPE, "data": {"image_encoder": "small_cnn"}})
            made["run"] = run(config, tmp_path_factory.mktemp("docs-run") / "run", data=data).run_dir
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(made["run"], path)

    return make


#: Runs the Python snippet files it is given one after the other, each in fresh globals as its own ``__main__``
#: (one interpreter start for consecutive snippets instead of one each).
RUN_PYTHON_FILES = "import runpy, sys\nfor path in sys.argv[1:]:\n    runpy.run_path(path, run_name='__main__')\n"


def batches(marked: list[Snippet]) -> list[list[tuple[int, Snippet]]]:
    """The numbered snippets in runs of one language, and a new run where a snippet needs a trained run placed first."""
    groups: list[list[tuple[int, Snippet]]] = []
    for index, snippet in enumerate(marked):
        if groups and groups[-1][-1][1].lang == snippet.lang == "python" and not snippet.run:
            groups[-1].append((index, snippet))
        else:
            groups.append([(index, snippet)])
    return groups


@pytest.mark.parametrize("page", PAGES)
def test_the_marked_snippets_of_a_page_run(page, tmp_path, trained_run):
    marked = snippets((DOCS / page).read_text(), page)
    if absent := missing_modules([name for snippet in marked for name in snippet.requires]):
        pytest.skip(f"{page} needs {', '.join(absent)}, not on this branch yet")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for group in batches(marked):
        for index, snippet in group:
            if snippet.run and not (tmp_path / snippet.run).exists():
                trained_run(tmp_path / snippet.run)
            (tmp_path / f"snippet-{index + 1}.{LANGUAGES[snippet.lang]}").write_text(snippet.code)
        names = [f"snippet-{index + 1}.{LANGUAGES[snippet.lang]}" for index, snippet in group]
        command = [sys.executable, "-c", RUN_PYTHON_FILES, *names] if group[0][1].lang == "python" else ["bash", "-e", names[0]]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        shown = "\n".join(f"--- {page}, snippet {index + 1}:\n{snippet.code}" for index, snippet in group)
        assert result.returncode == 0, f"{shown}\n{result.stdout}{result.stderr}"


def test_the_readme_starts_with_the_two_commands_and_links_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^## (.+)$", readme, re.M)[0] == "Two commands"
    first_block = re.search(r"^```\w*\n(.*?)^```$", readme, re.M | re.S)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make app", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "app:\n\tbash scripts/setup.sh --features\n" in makefile and "test:\n\tbash scripts/setup.sh --dev\n" in makefile
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links and not [link for link in links if not (ROOT / link).is_file()], "the README links to missing docs"
