"""The console's browser test shares the status page tests' Chromium fixture (Debian's
chromium through Playwright, docs/status-api.md "Browser tests")."""

from __future__ import annotations

from tests.web import test_page_browser

browser = test_page_browser.browser
