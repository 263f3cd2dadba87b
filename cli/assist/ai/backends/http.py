"""What the HTTP backends share: a requests session that retries 429/5xx and refused connections with
backoff (urllib3's Retry), the remote-endpoint policy, and the bearer token from the token store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...net import RemoteNotAllowed, require_local
from ...printable import without_password
from ...timeutil import parse_duration
from .base import ModelBackend, ModelError, ModelUnavailable

if TYPE_CHECKING:
    from ...config import Config

RETRY_STATUS = (429, 500, 502, 503, 504)


class HttpBackend(ModelBackend):
    default_url = "http://127.0.0.1:8080"

    def __init__(self, name: str, spec: dict[str, Any], config: Config):
        super().__init__(name, spec, config)
        self.url = str(spec.get("url", self.default_url)).rstrip("/")
        self.shown = without_password(self.url)  # the URL as errors and logs say it
        require_local(self.url, config, f"models.{name}")
        self.timeout_s = parse_duration(str(spec.get("timeout", "120s")))
        self.retries = int(spec.get("retries", 2))
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            retry = Retry(total=self.retries, connect=self.retries, read=0, status=self.retries,
                          backoff_factor=float(self.spec.get("backoff", 0.5)), status_forcelist=RETRY_STATUS,
                          allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            session.trust_env = False  # no proxy from the environment may see prompts
            self._session = session
        return self._session

    def headers(self) -> dict[str, str]:
        token = self.spec.get("token")
        if not token:
            return {}
        from ...auth.secrets import secret

        return {"Authorization": f"Bearer {secret(self.config.home, token)}"}

    def request(self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> Any:
        """Send a request; connection problems, timeouts and 429/5xx (after the retries) raise
        ModelUnavailable, other 4xx raise ModelError, both naming the model and the URL."""
        import requests
        from urllib3.exceptions import NewConnectionError
        from urllib3.exceptions import TimeoutError as Urllib3Timeout

        from ...net import request

        url = self.url + path
        shown = self.shown + path

        def check(target: str) -> None:  # a redirect goes nowhere the configured address could not
            try:
                require_local(target, self.config, f"models.{self.name}")
            except RemoteNotAllowed:
                raise ModelError(f"model {self.name}: {shown} redirected to {without_password(target)}, which is not "
                                 "on this machine (allow_remote is false); not followed") from None

        try:
            response = request(method, url, check=check, session=self.session, headers=self.headers(),
                               timeout=timeout_s or self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            # with retries mounted, a timeout arrives as a ConnectionError wrapping urllib3's MaxRetryError;
            # urllib3 counts a refused connection (NewConnectionError) as a kind of timeout: it is not one
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            timed_out = isinstance(reason, Urllib3Timeout) and not isinstance(reason, NewConnectionError)
            if (isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectionError)) or timed_out:
                raise ModelUnavailable(f"model {self.name}: no answer from {shown} within "
                                       f"{timeout_s or self.timeout_s:g}s") from None
            reason = type(exc).__name__
            raise ModelUnavailable(f"model {self.name}: cannot reach {shown} ({reason})") from None
        if response.status_code >= 400:
            detail = _reason(response)  # the server's own words: a grammar it cannot compile, a model it lacks
            said = f"model {self.name}: {shown} answered {response.status_code}" + (f": {detail}" if detail else "")
            raise (ModelUnavailable if response.status_code in RETRY_STATUS else ModelError)(said)
        return response


def _reason(response: Any) -> str:
    """What an error reply says, in one printable line: an OpenAI-style {"error": {"message"}} or
    {"error": "..."}, else the start of its text."""
    from ...printable import printable

    text = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error")
            text = str(error.get("message") if isinstance(error, dict) else error or body.get("detail") or "")
    except ValueError:
        pass
    return printable(" ".join((text or response.text or "").split()))[:300]
