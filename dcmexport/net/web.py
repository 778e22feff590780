"""DICOMweb with dicomweb-client: QIDO-RS queries, WADO-RS retrieval as raw Part 10 bytes, STOW-RS.

The session checks TLS certificates (``--ca-file`` adds a CA to the system's),
follows no redirect (an ``https`` URL could otherwise lead to ``http`` or to another
host), and carries the credentials. Errors are re-raised as :class:`NetworkError`
with the HTTP code and what to do; never with the URL (its query holds Patient IDs)
or the library's text, and never with a credential.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmexport.errors import NetworkError
from dcmexport.net import NetSettings, SendError, WebSpec, import_backend
from dcmexport.net.multipart import boundary_of, iter_parts

if TYPE_CHECKING:  # pragma: no cover
    import requests

#: What WADO-RS is asked for: Part 10 files in the transfer syntax the archive holds (PS3.18 8.7.3.5.2).
_WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_CHUNK = 1 << 20
#: HTTP codes worth retrying (the request may succeed later).
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})

_HINTS = {
    401: "the server wants credentials: set DCMEXPORT_DICOMWEB_TOKEN (or _USER and _PASSWORD) or give --auth-file",
    403: "the credentials are not allowed to do this",
    404: "not found: check the service path (e.g. /dicom-web)",
}


def _ssl_context(ca_file: Path) -> ssl.SSLContext:
    """The system's trusted CAs (and certifi's, which requests uses) plus ``ca_file``."""
    context = ssl.create_default_context()
    with contextlib.suppress(ImportError, OSError):
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError):
        raise NetworkError(f"--ca-file {ca_file}: not a PEM file of CA certificates") from None
    return context


def make_session(settings: NetSettings) -> requests.Session:
    """A requests session with the run's credentials, CA and no redirects."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.max_redirects = 0
    if settings.ca_file is not None:
        context = _ssl_context(settings.ca_file)

        class _Adapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["ssl_context"] = context
                super().init_poolmanager(*args, **kwargs)

        session.mount("https://", _Adapter())
    if settings.credentials is not None:
        settings.credentials.apply(session)
    return session


class WebClient:
    """One DICOMweb service: queries, raw retrieval and storage, errors made plain."""

    def __init__(self, spec: WebSpec, settings: NetSettings) -> None:
        api = import_backend("dicomweb_client.api", str(spec))
        self.spec, self.settings = spec, settings
        self.session = make_session(settings)
        self.client = api.DICOMwebClient(spec.url, session=self.session, timeout=(settings.timeout, settings.timeout))
        self.client.set_http_retry_params(retry=False)  # retries are ours: bounded, and only where they help
        self._response: requests.Response | None = None

    @contextlib.contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Re-raise the HTTP stack's errors as one plain line about ``what`` (e.g. ``QIDO-RS query``)."""
        import requests
        import urllib3

        try:
            yield
        except urllib3.exceptions.HTTPError as exc:  # raised by the raw stream, unwrapped by requests
            if _is_timeout(exc):
                raise SendError(f"{self.spec}: {what}: no answer within {self.settings.timeout:g} s",
                                transient=True) from None
            raise SendError(f"{self.spec}: {what}: the connection was lost", transient=True) from None
        except requests.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            raise self._http_error(what, code) from None
        except requests.exceptions.SSLError:
            raise NetworkError(f"{self.spec}: {what}: the server's TLS certificate is not trusted "
                               "(add your CA with --ca-file)") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            if _is_timeout(exc):
                raise SendError(f"{self.spec}: {what}: no answer within {self.settings.timeout:g} s",
                                transient=True) from None
            raise SendError(f"{self.spec}: {what}: cannot connect (is the server running?)", transient=True) from None
        except requests.TooManyRedirects:
            raise NetworkError(f"{self.spec}: {what}: the server redirected the request; give the final URL") from None
        except (ValueError, KeyError, TypeError):  # malformed JSON or multipart: not a DICOMweb answer
            raise NetworkError(f"{self.spec}: {what}: the server's answer is not valid DICOMweb") from None

    def _http_error(self, what: str, code: int) -> SendError:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        hint = _HINTS.get(code, "server error: see the server's log" if code >= 500 else "")
        return SendError(f"{self.spec}: {what}: HTTP {code} {phrase}" + (f" ({hint})" if hint else ""),
                         transient=code in TRANSIENT_HTTP)

    def search(self, level: str, filters: dict[str, str], fields: Iterable[str],
               study_uid: str | None = None) -> list[dict[str, Any]]:
        """QIDO-RS at ``studies`` or ``series`` level; every page of results."""
        with self.errors("QIDO-RS query"):
            if level == "studies":
                return list(self.client.search_for_studies(search_filters=filters, fields=list(fields),
                                                           get_remaining=True))
            return list(self.client.search_for_series(study_instance_uid=study_uid, search_filters=filters,
                                                      fields=list(fields), get_remaining=True))

    def iter_series_files(self, study_uid: str, series_uid: str) -> Iterator[bytes]:
        """WADO-RS: the series' objects as the archive holds them (Part 10 bytes), as they arrive.

        dicomweb-client's own retrieval parses each object with pydicom; re-encoding
        it would cost a parse and a write per object and change some files' bytes
        (deflated, big endian), whose SHA-256 names the outputs. Hence the raw
        multipart stream, on the client's session.
        """
        url = f"{self.spec.url}/studies/{study_uid}/series/{series_uid}"
        with self.errors("WADO-RS retrieval"):
            response = self.session.get(url, headers={"Accept": _WADO_ACCEPT}, stream=True,
                                        timeout=(self.settings.timeout, self.settings.timeout))
            self._response = response
            with response:
                response.raise_for_status()
                content_type = response.headers.get("Content-Type", "")
                if content_type.lower().startswith("application/dicom"):
                    yield response.content
                    return
                yield from iter_parts(_chunks(response), boundary_of(content_type))

    def send(self, path: Path) -> None:
        """Store one Part 10 file (STOW-RS).

        Raises:
            SendError: refused (permanent) or failed in a way worth retrying (transient).
        """
        import pydicom

        dataset = pydicom.dcmread(path)
        with self.errors("STOW-RS store"):
            answer = self.client.store_instances([dataset])
        failed = getattr(answer, "FailedSOPSequence", None)
        if failed:
            reason = getattr(failed[0], "FailureReason", None)
            detail = f" (failure reason 0x{int(reason):04X})" if reason is not None else ""
            raise SendError(f"{self.spec}: STOW-RS store: the server refused the object{detail}", transient=False)

    def abort(self) -> None:
        """Close a retrieval's response from another thread (its reader then fails)."""
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()

    def close(self) -> None:
        self.session.close()


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: whatever has come, up to a chunk (a full-chunk read would wait for a
    megabyte, or the end, before the first object could be exported)."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 >= 2.3
    if read1 is None:
        yield from response.iter_content(1 << 16)
        return
    while chunk := read1(_CHUNK, decode_content=True):
        yield chunk


def _is_timeout(exc: BaseException) -> bool:
    """requests wraps a read timeout during streaming in a ConnectionError; look inside."""
    import requests

    if isinstance(exc, requests.Timeout):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if "timeout" in type(current).__name__.lower() or any(
            "timeout" in type(a).__name__.lower() for a in current.args if isinstance(a, BaseException)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
