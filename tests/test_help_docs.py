"""The staff help (docs/help/<ru|en>/*.md, shown in the Mini App at /help) grows with every feature: every bot
command has its section in commands.md and every Mini App page its page-<name>.md, in both languages; every link
between help pages leads to a page (and heading) that exists."""

from __future__ import annotations

import re

import pytest

from bot.commands import COMMANDS
from webapp.api import help as help_area
from webapp.server import AREAS

LOCALES = help_area.LOCALES
NOT_DOCUMENTED = {"help_page"}  # a help page itself: its contents are the help
LINK = re.compile(r"\]\((/help(?:/([a-z0-9_-]+))?)(?:#([^)\s]+))?\)")


def app_pages() -> list[str]:
    return [p.name for area in AREAS for p in area.PAGES if p.name not in NOT_DOCUMENTED]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_bot_command_has_a_section(locale):
    text = help_area.path_of(locale, "commands").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## /([a-z_]+)\s*$", text, re.MULTILINE))
    missing = [c.name for c in COMMANDS if c.name not in headings]
    assert missing == [], f"docs/help/{locale}/commands.md lacks '## /<command>' for {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_app_page_has_a_help_page(locale):
    missing = [name for name in app_pages() if not help_area.path_of(locale, f"page-{name}").is_file()]
    assert missing == [], f"write docs/help/{locale}/page-<name>.md for {missing}"


def test_both_languages_have_the_same_pages():
    assert help_area.available("ru") == help_area.available("en")
    assert {"index", "start-manager", "start-owner", "commands", "ai", "attribution", "business"} \
        <= set(help_area.available("ru"))


@pytest.mark.parametrize("locale", LOCALES)
def test_links_lead_to_pages_and_headings_that_exist(locale):
    pages = help_area.available(locale)
    linked = set()
    for slug in pages:
        text = help_area.path_of(locale, slug).read_text(encoding="utf-8")
        for _, target, anchor in LINK.findall(text):
            target = target or help_area.INDEX
            assert target in pages, f"{locale}/{slug}.md links to a missing page {target!r}"
            linked.add(target)
            if anchor:
                _, html = help_area.render(locale, target)
                assert f'id="{anchor}"' in html, f"{locale}/{slug}.md links to a missing heading {target}#{anchor}"
    index = help_area.path_of(locale, help_area.INDEX).read_text(encoding="utf-8")
    unlisted = [p for p in pages if p != help_area.INDEX and f"(/help/{p})" not in index]
    assert unlisted == [], f"docs/help/{locale}/index.md does not list {unlisted}"


def test_pages_render_as_html_without_running_raw_html():
    title, html = help_area.render("en", "commands")
    assert title == "Bot commands" and '<h2 id="voice">/voice</h2>' in html
    assert help_area.renderer().render("<script>alert(1)</script>").startswith("<p>&lt;script&gt;")
