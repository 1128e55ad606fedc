"""milestone-sheets.toml: loaded and validated once, into frozen dataclasses."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milestone_sheets.errors import ConfigError

CONFIG_NAME = "milestone-sheets.toml"
FIELD_KEYS = frozenset(
    {
        "id", "name", "owner", "email", "category", "department", "goal", "start", "due",
        "completed", "budget", "actual", "progress", "metric", "target", "result",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SourceConfig:
    location: str | None = None
    worksheet: str | None = None
    date_order: str = "DMY"


@dataclass(frozen=True)
class StatusConfig:
    at_risk_behind: float = 0.25
    checkpoint_days: int = 7


@dataclass(frozen=True)
class ReviewConfig:
    sender: str | None = None  # the `from` key
    reply_to: str | None = None
    manager: str | None = None
    allowed_domains: tuple[str, ...] = ()
    templates: Path | None = None
    outbox: Path = Path("outbox")
    state: Path = Path(".milestone-sheets")
    link: str | None = None  # the plan's shared address (SharePoint, a file share, ...)
    title: str | None = None  # the plan's name in reports and digests


def _shared_link(link: str | None) -> str | None:
    """[review] link: an address every recipient can open (https://, or a file share)."""
    if link is None:
        return None
    if not re.match(r"^(https?://|\\\\|smb://)", link):
        raise ConfigError(
            f"review.link: {link!r} is not an address others can open; give the plan's "
            "shared address (https://..., a SharePoint or OneDrive link, or \\\\server\\share)"
        )
    return link


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    timeout: float = 30.0
    rate_per_minute: float = 0.0


def is_loopback(endpoint: str) -> bool:
    """An http:// endpoint on this machine (the emulator), where no token travels."""
    return bool(re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/?$", endpoint))


@dataclass(frozen=True)
class GoogleConfig:
    credentials: Path | None = None
    endpoint: str = "https://sheets.googleapis.com"
    timeout: float = 30.0  # seconds for each request, token refresh included


@dataclass(frozen=True)
class Config:
    """The whole configuration; `base_dir` is where relative paths start."""

    base_dir: Path
    path: Path | None = None
    source: SourceConfig = SourceConfig()
    sources: tuple[SourceConfig, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    status: StatusConfig = StatusConfig()
    review: ReviewConfig = ReviewConfig()
    smtp: SmtpConfig = SmtpConfig()
    google: GoogleConfig = GoogleConfig()

    def resolve(self, location: str) -> str:
        """A source location: URLs and gsheet: keys as they are, paths from base_dir."""
        if is_remote(location):
            return location
        return str((self.base_dir / Path(location).expanduser()).resolve())


def is_remote(location: str) -> bool:
    return location.startswith(("http://", "https://", "gsheet:"))


class _Table:
    """Reads one TOML table, checking types and refusing unknown keys."""

    def __init__(self, data: Any, name: str):
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: expected a table, got {type(data).__name__}")
        self.data = dict(data)
        self.name = name

    def _key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def take(self, key: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data.pop(key)
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise ConfigError(f"{self._key(key)}: expected {_kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise ConfigError(
                f"{self._key(key)}: expected {_kind_name(kinds)}, got {type(value).__name__}"
            )
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.take(key, str, default)
        if value not in options:
            raise ConfigError(
                f"{self._key(key)}: expected one of {', '.join(options)}, got {value!r}"
            )
        return value

    def number(self, key: str, default: float, low: float, high: float | None = None) -> float:
        value = self.take(key, (int, float), default)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{self._key(key)}: expected a number {bound}, got {value}")
        return float(value)

    def done(self) -> None:
        if self.data:
            unknown = sorted(self.data)[0]
            raise ConfigError(f"{self._key(unknown)}: unknown key")


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = {
        dict: "a table",
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        bool: "true or false",
    }
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if int in kinds and float in kinds:
        return "a number"
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)


def _source(data: Any, name: str) -> SourceConfig:
    table = _Table(data, name)
    result = SourceConfig(
        location=table.take("location", str),
        worksheet=table.take("worksheet", str),
        date_order=table.choice("date_order", ("DMY", "MDY"), "DMY"),
    )
    table.done()
    return result


def _path(base: Path, value: str | None) -> Path | None:
    return None if value is None else (base / Path(value).expanduser()).resolve()


def parse_config(data: dict[str, Any], base_dir: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document into a Config."""
    top = _Table(data, "")
    source = _source(top.take("source", dict, {}), "source")
    sources_data = top.take("sources", list, [])
    sources = tuple(_source(item, f"sources[{index}]") for index, item in enumerate(sources_data))

    columns_table = _Table(top.take("columns", dict, {}), "columns")
    columns = {}
    for key in list(columns_table.data):
        if key not in FIELD_KEYS:
            raise ConfigError(
                f"columns.{key}: unknown field (known: {', '.join(sorted(FIELD_KEYS))})"
            )
        columns[key] = columns_table.take(key, str)

    status_table = _Table(top.take("status", dict, {}), "status")
    at_risk = status_table.number("at_risk_behind", 0.25, 0.0, 1.0)
    checkpoint_days = status_table.take("checkpoint_days", int, 7)
    if checkpoint_days < 1:
        raise ConfigError(
            f"status.checkpoint_days: expected a whole number of days >= 1, got {checkpoint_days}"
        )
    status_table.done()
    status = StatusConfig(at_risk, checkpoint_days)

    review_table = _Table(top.take("review", dict, {}), "review")
    domains = review_table.take("allowed_domains", list, [])
    if not all(isinstance(item, str) and item for item in domains):
        raise ConfigError("review.allowed_domains: expected a list of domain names")
    review = ReviewConfig(
        sender=review_table.take("from", str),
        reply_to=review_table.take("reply_to", str),
        manager=review_table.take("manager", str),
        allowed_domains=tuple(item.lower().lstrip("@") for item in domains),
        templates=_path(base_dir, review_table.take("templates", str)),
        outbox=_path(base_dir, review_table.take("outbox", str, "outbox")) or Path("outbox"),
        state=_path(base_dir, review_table.take("state", str, ".milestone-sheets")) or Path("."),
        link=_shared_link(review_table.take("link", str)),
        title=review_table.take("title", str),
    )
    review_table.done()

    smtp_table = _Table(top.take("smtp", dict, {}), "smtp")
    security = smtp_table.choice("security", ("none", "starttls", "ssl"), "starttls")
    port = smtp_table.take("port", int)
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"smtp.port: expected a port number 1..65535, got {port}")
    smtp = SmtpConfig(
        host=smtp_table.take("host", str, "localhost"),
        port=port,
        security=security,
        username=smtp_table.take("username", str),
        timeout=smtp_table.number("timeout", 30.0, 0.1),
        rate_per_minute=smtp_table.number("rate_per_minute", 0.0, 0.0),
    )
    smtp_table.done()

    google_table = _Table(top.take("google", dict, {}), "google")
    endpoint = google_table.take("endpoint", str, "https://sheets.googleapis.com")
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"google.endpoint: expected an http:// or https:// URL, got {endpoint!r}")
    if endpoint.startswith("http://") and not is_loopback(endpoint):
        raise ConfigError(
            f"google.endpoint: {endpoint} is plain http:// to another machine, which would "
            "carry the access token in clear; use https://, or http:// only on 127.0.0.1"
        )
    google = GoogleConfig(
        credentials=_path(base_dir, google_table.take("credentials", str)),
        endpoint=endpoint.rstrip("/"),
        timeout=google_table.number("timeout", 30.0, 0.1),
    )
    google_table.done()
    top.done()
    return Config(
        base_dir=base_dir,
        path=path,
        source=source,
        sources=sources,
        columns=columns,
        status=status,
        review=review,
        smtp=smtp,
        google=google,
    )


def load_config(path: Path | None = None, cwd: Path | None = None) -> Config:
    """The config given, else milestone-sheets.toml in the current folder, else defaults."""
    cwd = cwd or Path.cwd()
    if path is None:
        candidate = cwd / CONFIG_NAME
        if not candidate.exists():
            return parse_config({}, cwd.resolve())
        path = candidate
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return parse_config(data, path.resolve().parent, path.resolve())
    except ConfigError as err:
        raise ConfigError(f"{path.name}: {err}") from None
