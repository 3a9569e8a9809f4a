"""``brainjar push`` and ``pull``: images to and from any OCI distribution registry, via ``oras``.

Credentials come from ``~/.docker/config.json`` (``auths``, ``credsStore``,
``credHelpers``: what ``docker login`` and ``brainjar login`` write), or from
``ORAS_USER``/``ORAS_PASS``. The registry's challenge on ``GET /v2/`` decides
between basic and bearer-token auth. A blob the registry already has is not
sent (``HEAD`` first); a pulled blob is hashed before it enters the store.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError

from . import _media as media
from ._ref import Reference
from ._store import ImageError, Store

__all__ = ["PullResult", "PushResult", "check_login", "pull_image", "push_image"]

# Seconds for one request's connect and for each read of its answer.
REQUEST_TIMEOUT = 60.0
_CHUNK = 1 << 20
# Error codes of the distribution spec in what oras raises when a registry refuses.
_REFUSALS = ("UNAUTHORIZED", "DENIED")


@dataclass(frozen=True)
class PushResult:
    """What a push sent (layer and config blobs; the image manifest is not counted)."""

    digest: str
    sent_bytes: int
    sent_blobs: int
    skipped_blobs: int


@dataclass(frozen=True)
class PullResult:
    """What a pull fetched."""

    digest: str
    received_bytes: int
    received_blobs: int
    skipped_blobs: int


def _loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _classes() -> tuple[type[Any], type[Any]]:
    """oras's registry client as brainjar uses it, and a transport with a timeout.

    Made on first use: oras and requests are imported only by the image commands.
    """
    import oras.auth
    import oras.provider
    import requests.adapters

    # oras retries a failed request five times with waits that add up to minutes;
    # brainjar reports the failure at once and leaves the store clean instead.
    once = oras.provider.Registry.do_request.__wrapped__

    class Registry(oras.provider.Registry):  # type: ignore[misc]
        def do_request(
            self,
            url: str,
            method: str = "GET",
            data: Any = None,
            headers: dict[str, str] | None = None,
            json: Any = None,
            stream: bool = False,
        ) -> Any:
            response = once(self, url, method, data, dict(headers or {}), json, stream)
            auth = self.auth
            if (
                response.status_code == 401
                and isinstance(auth, oras.auth.TokenAuth)
                and auth.token is not None
                and "bearer" in response.headers.get("Www-Authenticate", "").lower()
            ):
                # The token is for another scope (pull, where a push needs pull,push):
                # oras would send it again; ask the realm for one of this scope.
                auth.token = None
                response = once(self, url, method, data, dict(headers or {}), json, stream)
            return response

    class Patient(requests.adapters.HTTPAdapter):
        """Gives every request a timeout: oras sets none, and a registry may go silent."""

        def send(self, request: Any, timeout: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
            return super().send(request, timeout=timeout or REQUEST_TIMEOUT, **kwargs)

    return Registry, Patient


def _client(ref: Reference, *, insecure: bool, ca: Path | None) -> Any:
    """An ``oras`` registry client for ``ref``'s registry, with the auth it asks for."""
    import requests

    if ref.registry is None:
        raise ManifestError(
            f"{ref} names no registry; write e.g. 127.0.0.1:5000/{ref.repository}:1"
        )
    if insecure and not _loopback(ref.registry):
        raise ManifestError(
            f"--insecure (plain HTTP) is only for registries on this machine's loopback, "
            f"not {ref.registry}; use TLS, with --ca FILE for a private CA"
        )
    verify: bool | str = str(ca) if ca is not None else True
    scheme = "http" if insecure else "https"
    try:
        probe = requests.get(
            f"{scheme}://{ref.registry}/v2/", timeout=REQUEST_TIMEOUT, verify=verify
        )
    except requests.RequestException as exc:
        raise ImageError(
            f"cannot reach the registry {ref.registry} ({type(exc).__name__}: {exc}); check "
            "the address, that it runs, and --insecure (loopback HTTP) or --ca (a private CA)"
        ) from None
    challenge = probe.headers.get("Www-Authenticate", "")
    backend = "basic" if challenge.lower().startswith("basic") else "token"

    registry_class, transport = _classes()
    client = registry_class(
        hostname=ref.registry, insecure=insecure, tls_verify=verify, auth_backend=backend
    )
    for prefix in ("http://", "https://"):
        client.session.mount(prefix, transport())
    container = client.get_container(f"{ref.registry}/{ref.repository}")
    client.auth.load_configs(container)
    if (
        probe.status_code == 401
        and backend == "basic"
        and not getattr(client.auth, "_basic_auth", None)
    ):
        raise ImageError(
            f"the registry {ref.registry} wants a user name and password and brainjar has "
            "none for it; run `brainjar login "
            f"{ref.registry}` (or docker login), or set ORAS_USER and ORAS_PASS"
        )
    basic = getattr(client.auth, "_basic_auth", None)
    if backend == "basic" and basic:  # sent up front: no 401 round trip, no body sent twice
        client.session.headers["Authorization"] = f"Basic {basic}"
        again = _call(
            client.session.get,
            f"{scheme}://{ref.registry}/v2/",
            ref=ref,
            what="logging in",
            timeout=REQUEST_TIMEOUT,
            verify=verify,
        )
        if again.status_code == 401:
            raise ImageError(
                f"the registry {ref.registry} answered 401 to the user name and password "
                "brainjar has for it; log in again with `brainjar login "
                f"{ref.registry} -u USER` (or docker login)"
            )
    return client, container


def check_login(
    registry: str, username: str, password: str, *, insecure: bool, ca: Path | None
) -> None:
    """Checks a user name and password against ``registry`` (as ``docker login`` does).

    Basic auth: ``GET /v2/`` with them must not answer 401. Bearer-token auth: the
    realm named in the challenge must issue a token for them.

    Raises:
        ManifestError: ``--insecure`` for a registry that is not on loopback.
        ImageError: the registry cannot be reached or refuses the credentials.
    """
    import requests
    import requests.utils

    if insecure and not _loopback(registry):
        raise ManifestError(
            f"--insecure (plain HTTP) is only for registries on this machine's loopback, "
            f"not {registry}; use TLS, with --ca FILE for a private CA"
        )
    verify: bool | str = str(ca) if ca is not None else True
    url = f"{'http' if insecure else 'https'}://{registry}/v2/"
    refused = (
        f"the registry {registry} refused the user name {username!r} and its password "
        "(401); check them and run brainjar login again; nothing was saved"
    )
    try:
        answer = requests.get(
            url, auth=(username, password), timeout=REQUEST_TIMEOUT, verify=verify
        )
        challenge = answer.headers.get("Www-Authenticate", "")
        if answer.status_code == 401 and challenge.lower().startswith("bearer"):
            params = requests.utils.parse_dict_header(challenge[len("bearer") :].strip())
            realm = params.pop("realm", None) or ""
            answer = requests.get(
                realm,
                params={k: v for k, v in params.items() if k == "service"},
                auth=(username, password),
                timeout=REQUEST_TIMEOUT,
                verify=verify,
            )
    except requests.RequestException as exc:
        raise ImageError(
            f"cannot reach the registry {registry} ({type(exc).__name__}: {exc}); check "
            "the address, that it runs, and --insecure (loopback HTTP) or --ca (a private CA); "
            "nothing was saved"
        ) from None
    if answer.status_code in (401, 403):
        raise ImageError(refused)
    if answer.status_code >= 400:
        raise ImageError(
            f"the registry {registry} answered {answer.status_code} when brainjar checked the "
            "credentials; check the address; nothing was saved"
        )


def _check(response: Any, *, what: str, ref: Reference, ok: tuple[int, ...]) -> None:
    if response.status_code in ok:
        return
    try:
        errors = "; ".join(e.get("message", "") for e in response.json().get("errors", []))
    except ValueError:
        errors = response.text[:200]
    hint = (
        "check the user name and password in ~/.docker/config.json (brainjar login)"
        if response.status_code in (401, 403)
        else "check the reference and the registry's log"
    )
    raise ImageError(
        f"{ref.registry} answered {response.status_code} to {what} of {ref}: "
        f"{errors or response.reason}; {hint}"
    )


def _call(fn: Any, *args: Any, ref: Reference, what: str, **kwargs: Any) -> Any:
    import requests

    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        if any(code in str(exc) for code in _REFUSALS):  # oras: "Issue retrieving session url"
            raise ImageError(
                f"{ref.registry} refused {what} of {ref} (401 unauthorized, or denied): the "
                f"credentials brainjar has for it, if any, give no right to {ref.repository}; "
                f"run `brainjar login {ref.registry}` (or docker login) as a user who may "
                "push and pull there, or set ORAS_USER and ORAS_PASS"
            ) from None
        raise _failed(exc, ref=ref, what=what) from None
    except (requests.RequestException, OSError) as exc:
        raise _failed(exc, ref=ref, what=what) from None


def _failed(exc: Exception, *, ref: Reference, what: str) -> ImageError:
    return ImageError(
        f"{what} of {ref} failed at {ref.registry}: {type(exc).__name__}: {exc}; "
        "check that the registry runs and that your credentials are right"
    )


def push_image(
    ref: Reference, *, store: Store, insecure: bool = False, ca: Path | None = None
) -> PushResult:
    """Pushes the local image ``ref`` to its registry; blobs already there are not sent.

    Raises:
        ManifestError: the image is not in the local store.
        ImageError: the registry refused or failed.
    """
    digest = ref.digest or store.lookup(ref.tagged)
    if digest is None or not store.has(digest):
        raise ManifestError(
            f"no image {ref} in the local store; build it with brainjar build -t {ref}"
        )
    client, container = _client(ref, insecure=insecure, ca=ca)
    body = store.blob_path(digest).read_bytes()
    manifest = json.loads(body)
    sent = sent_blobs = skipped = 0
    for descriptor in [manifest["config"], *manifest.get("layers", [])]:
        if _call(client.blob_exists, descriptor, container, ref=ref, what="a blob check"):
            skipped += 1
            continue
        blob = store.blob_path(descriptor["digest"])
        response = _call(
            client.put_upload, str(blob), container, descriptor, ref=ref, what="the upload"
        )
        _check(response, what=f"the upload of {descriptor['digest']}", ref=ref, ok=(201,))
        sent += descriptor["size"]
        sent_blobs += 1
    url = f"{client.prefix}://{container.manifest_url(ref.tag or ref.target)}"
    headers = {"Content-Type": media.MANIFEST_MEDIA_TYPE}
    response = _call(
        client.do_request,
        url,
        "PUT",
        data=body,
        headers=headers,
        ref=ref,
        what="the manifest upload",
    )
    _check(response, what="the manifest upload", ref=ref, ok=(201,))
    return PushResult(digest, sent, sent_blobs, skipped)


def _fetch_blob(
    client: Any, container: Any, descriptor: dict[str, Any], *, store: Store, ref: Reference
) -> int:
    response = _call(
        client.get_blob, container, descriptor["digest"], stream=True, ref=ref, what="the download"
    )
    with response:
        _check(response, what=f"the download of {descriptor['digest']}", ref=ref, ok=(200,))
        with store.writer(descriptor["digest"]) as (handle, _):
            size = 0
            chunks = response.iter_content(_CHUNK)
            # Each next() is a read from the registry, which may fail or go silent.
            while chunk := _call(next, chunks, b"", ref=ref, what="the download"):
                size += len(chunk)
                if size > descriptor["size"]:
                    break
                handle.write(chunk)
    return size


def pull_image(
    ref: Reference, *, store: Store, insecure: bool = False, ca: Path | None = None
) -> PullResult:
    """Pulls ``ref`` into the store; every blob is verified against its digest.

    On any failure the blobs this pull added are removed again.

    Raises:
        ImageError: the registry refused or failed, the image is not a jar, or a
            blob's content does not match its digest.
    """
    client, container = _client(ref, insecure=insecure, ca=ca)
    url = f"{client.prefix}://{container.manifest_url(ref.target)}"
    headers = {"Accept": media.MANIFEST_MEDIA_TYPE}
    response = _call(
        client.do_request, url, "GET", headers=headers, ref=ref, what="the manifest download"
    )
    _check(response, what="the manifest download", ref=ref, ok=(200,))
    body: bytes = response.content
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    announced = response.headers.get("Docker-Content-Digest")
    if announced and announced.startswith("sha256:") and announced != digest:
        raise ImageError(
            f"{ref.registry} announced manifest {announced} for {ref} but sent bytes whose "
            f"digest is {digest}: refused, nothing was stored; push the image again"
        )
    if ref.digest is not None and digest != ref.digest:
        raise ImageError(
            f"{ref.registry} sent a manifest for {ref} whose digest is {digest}: refused, "
            "nothing was stored; the registry's copy was changed, or the digest is wrong"
        )
    manifest = json.loads(body)
    config_type = manifest.get("config", {}).get("mediaType")
    if config_type != media.CONFIG_MEDIA_TYPE:
        raise ImageError(
            f"{ref} is not a brainjar jar image (its config is {config_type!r}, not "
            f"{media.CONFIG_MEDIA_TYPE}); build one with brainjar build"
        )
    added: list[str] = []
    received = received_blobs = skipped = 0
    try:
        for descriptor in [manifest["config"], *manifest.get("layers", [])]:
            if store.has(descriptor["digest"]):
                skipped += 1
                continue
            received += _fetch_blob(client, container, descriptor, store=store, ref=ref)
            added.append(descriptor["digest"])
            received_blobs += 1
        with store.writer(digest) as (handle, _):
            handle.write(body)
    except BaseException:
        for blob in added:
            store.blob_path(blob).unlink(missing_ok=True)
        raise
    store.tag(f"{ref.name}@{digest}" if ref.digest else ref.tagged, digest)
    return PullResult(digest, received, received_blobs, skipped)
