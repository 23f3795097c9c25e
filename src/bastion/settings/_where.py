"""Where a value sits in the configuration: file, line and key path, and how to blame it."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.settings._problems import ConfigProblem
from bastion.settings._yaml import Mark

__all__ = ["Where"]


@dataclass(frozen=True, slots=True)
class Where:
    """A file position plus the key path that reaches it (``model_list[1].litellm_params.api_key``)."""

    mark: Mark
    path: str = ""

    def key(self, key: str, mark: Mark) -> Where:
        return Where(mark, f"{self.path}.{key}" if self.path else key)

    def item(self, index: int, mark: Mark) -> Where:
        return Where(mark, f"{self.path}[{index}]")

    def error(self, message: str) -> ConfigProblem:
        """The one-line error every configuration problem becomes: ``file:line: path: message``."""
        if self.path:
            return ConfigProblem(f"{self.mark}: {self.path}: {message}", self.path, self.mark)
        return ConfigProblem(f"{self.mark}: {message}", mark=self.mark)
