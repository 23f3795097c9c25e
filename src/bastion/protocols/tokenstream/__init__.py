"""The browser token stream: one ``data:`` line per token, then ``data: [DONE]`` (docs/browser.md)."""
