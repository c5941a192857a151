"""Help for staff: markdown pages under docs/help/<ru|en>/, rendered for the reader in their language (markdown-it-py,
CommonMark with tables; raw HTML in a page is shown as text, never run). `/help` is the contents (index.md),
`/help/<name>` a page: getting started per role, every bot command (commands.md, one `## /command` section each),
every Mini App page (page-<name>.md), how the AI decides, attribution, Telegram Business or a userbot account.
The bot's /help links here. tests/test_help_docs.py fails when a bot command or a Mini App page has no help in both
languages, so the help grows with every feature.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from aiohttp import web
from markdown_it import MarkdownIt

from core import i18n
from core.errors import NotFound

from ..pages import Page

routes = web.RouteTableDef()
def _help_root() -> Path:
    """docs/help beside the checkout; an installed package (the Docker image) finds it in the working directory,
    where the image copies docs/."""
    beside = Path(__file__).resolve().parents[2] / "docs" / "help"
    return beside if beside.is_dir() else Path.cwd() / "docs" / "help"


HELP_ROOT = _help_root()
LOCALES = ("ru", "en")
INDEX = "index"
_SLUG = re.compile(r"[a-z0-9_-]{1,64}")


def slugify(text: str) -> str:
    """A heading's anchor: `## /voice` → "voice", `## Первый день` → "первый-день"."""
    words = re.sub(r"[^\w\s-]", "", text.lower()).split()
    return "-".join(words)


def _heading_ids(md: MarkdownIt) -> None:
    def heading_open(self, tokens, idx, options, env):
        token = tokens[idx]
        inline = tokens[idx + 1]
        anchor = slugify(inline.content)
        if anchor:
            seen = env.setdefault("anchors", set())
            base, n = anchor, 1
            while anchor in seen:
                n += 1
                anchor = f"{base}-{n}"
            seen.add(anchor)
            token.attrSet("id", anchor)
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)


@lru_cache(maxsize=1)
def renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    _heading_ids(md)
    return md


def path_of(locale: str, slug: str) -> Path:
    return HELP_ROOT / locale / f"{slug}.md"


def available(locale: str) -> list[str]:
    folder = HELP_ROOT / locale
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def render(locale: str, slug: str) -> tuple[str, str]:
    """(title, html) of a help page in `locale`, else in the other language; NotFound when neither has it."""
    if not _SLUG.fullmatch(slug):
        raise NotFound(f"no help page {slug!r}", code="miniapp.help.missing", page=slug[:64])
    for lang in (locale, *[l for l in LOCALES if l != locale]):
        path = path_of(lang, slug)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
            return (heading.group(1).strip() if heading else slug), renderer().render(text)
    raise NotFound(f"no help page {slug!r}", code="miniapp.help.missing", page=slug)


async def _index(request, session, member) -> dict:
    title, html = render(i18n.normalize(member.locale), INDEX)
    return {"doc_title": title, "doc_html": html, "slug": INDEX}


async def _page(request, session, member) -> dict:
    slug = request.match_info["slug"]
    title, html = render(i18n.normalize(member.locale), slug)
    return {"doc_title": title, "doc_html": html, "slug": slug}


PAGES = [
    Page(name="help", path="/help", title="miniapp.help.title", texts=("miniapp.help.",), context=_index,
         order=90),
    Page(name="help_page", path="/help/{slug:[a-z0-9_-]+}", title="miniapp.help.title", texts=("miniapp.help.",),
         context=_page, nav=False, order=91, script="help"),
]
