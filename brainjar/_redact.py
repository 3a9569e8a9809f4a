"""Secrets kept out of every text that leaves the process.

Three kinds of secret are hidden, each replaced by ``***``:

- values a manifest read from the environment (``${VAR}``): ``brainjar.manifest``
  registers each one with :func:`register_secret` as it interpolates it;
- the user info of a URL (``https://user:password@host`` becomes ``https://***@host``)
  and secret-like query parameters (``?token=...``, ``&api_key=...``);
- the value after a secret-like command-line flag (``--api-key VALUE``,
  ``--token=VALUE``, ``--hf-token``, ``--password``, ``--client-secret``) and a
  secret-like variable in the environment style (``OPENAI_API_KEY=VALUE``).

:func:`redact` is applied where text leaves the process: brainjar's exceptions
(their messages are redacted when they are made), transcripts, HTTP error bodies,
the model process's log lines, and every ``brainjar.*`` log record (see
:func:`redact_logging`, installed on import). It imports nothing of brainjar, so
every layer may use it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any
from urllib.parse import quote

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "redact",
    "redact_logging",
    "register_secret",
    "secret_count",
]

MASK = "***"
# Shorter values are not hidden: they are too weak to be secrets, and hiding
# them would hide ordinary words and numbers everywhere (a ${LEVEL} of "info").
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
# Every form a registered secret may take in text, longest first, so that a
# secret that contains another is hidden whole.
_secrets: tuple[str, ...] = ()

_SECRET_WORD = r"(?:api[-_]?key|access[-_]?key|token|password|passwd|secret|credentials?)"
# A flag whose name holds a secret word that ends the name or a part of it
# (``--hf-token``, ``--api-key-file``; not ``--tokenizer`` or ``--max-tokens``),
# then ``=`` or blanks (a shell line), or ``', '`` (a Python list), then the value:
# quoted, or up to a blank, quote, comma, bracket, parenthesis or backslash (a
# JSON escape).
_FLAG = re.compile(
    # Starts with a literal dash, so that the search skips along fast; the
    # lookbehind then checks that this dash starts a word.
    r"(?P<flag>-(?<![\w-]-)-?(?:[A-Za-z0-9]+[-_])*" + _SECRET_WORD + r"(?:[-_][\w-]*)?)"
    r"(?P<sep>=|[ \t]+|['\"],[ \t]*)"
    r"(?P<value>'[^'\n]*'|\"[^\"\n]*\"|[^\s'\",)\]\\]+)",
    re.IGNORECASE,
)
# OPENAI_API_KEY=sk-..., HF_TOKEN=hf_... (an environment dump, a shell line).
_ENV = re.compile(
    # The name's start is not matched: only what follows the secret word is needed.
    r"(?P<flag>(?:API_?KEY|ACCESS_?KEY|TOKEN|PASSWORD|PASSWD|SECRET)[A-Z0-9_]*=)"
    r"(?P<value>[^\s'\",\\]+)"
)
# scheme://user:password@host: everything between // and @ goes.
_USERINFO = re.compile(r"://[^/\s@'\"\\?#]+@")
# ?token=...&sig=... in a URL.
_QUERY = re.compile(
    r"(?P<flag>[?&][\w.-]*(?:key|token|password|passwd|secret|sig|signature|auth)[\w.-]*=)"
    r"(?P<value>[^&\s#'\"\\]+)",
    re.IGNORECASE,
)


def register_secret(value: str) -> None:
    """Hides ``value`` (and its JSON and URL forms) in everything :func:`redact` sees.

    Values shorter than ``MIN_SECRET_LENGTH`` are not registered.
    """
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.add(quote(value, safe=""))
    global _secrets
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def secret_count() -> int:
    """How many forms of registered secrets :func:`redact` hides (for tests and debugging)."""
    return len(_secrets)


def redact(text: str) -> str:
    """``text`` with every secret this module knows of replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _USERINFO.sub("://" + MASK + "@", text)
    if "=" in text:
        text = _QUERY.sub(r"\g<flag>" + MASK, text)
        text = _ENV.sub(r"\g<flag>" + MASK, text)
    if "-" in text:
        text = _FLAG.sub(_mask_flag, text)
    return text


def _mask_flag(match: re.Match[str]) -> str:
    value = match.group("value")
    quote_char = value[0] if value[:1] in ("'", '"') and len(value) > 1 else ""
    return match.group("flag") + match.group("sep") + quote_char + MASK + quote_char


class RedactingFilter(logging.Filter):
    """Redacts a log record in place: its message, arguments and exception text.

    It never drops a record. Put it on a handler to redact other libraries' records too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    """Redacts ``record`` in place; the formatted message replaces ``msg`` and ``args``."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it, unredacted is worse
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_installed = False
_FILTER = RedactingFilter()


def redact_logging() -> None:
    """Redacts every record of brainjar's loggers (``brainjar`` and ``brainjar.*``).

    A filter on a parent logger does not see its children's records, and brainjar's
    loggers are made as their modules are imported, so the filter runs when a record
    is made: the record factory is wrapped (once, keeping whatever factory was set)
    and leaves other loggers' records alone.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if record.name == "brainjar" or record.name.startswith("brainjar."):
            _FILTER.filter(record)
        return record

    logging.setLogRecordFactory(factory)


redact_logging()
