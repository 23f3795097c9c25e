"""The browser room: token-stream endpoints, browser token minting, CORS and the demo files."""

from bastion.api.browser.routes import BrowserApi

__all__ = ["BrowserApi"]
