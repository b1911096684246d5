"""``lgmock contract callbacks``: does a partner's receiver take everything the platform sends?

For each kind of delivery (every pushType, success and per-device failure envelopes,
subscription messages) and each edge a real platform produces (unknown extra fields,
unicode, large results, duplicate delivery, out-of-order delivery) hypothesis draws
spec-valid payloads and POSTs them to the receiver, which must answer 2xx within the
timeout. When it does not, hypothesis shrinks the payload, and the report shows the
smallest one that still fails, with a curl line to replay it.

A receiver that stops answering altogether is reported with the payload it was handling
when it went down, and the remaining kinds are skipped: once it is down, every payload
"fails", so shrinking would only find the empty one.
"""

from __future__ import annotations

import json
import shlex
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisWarning

from contract_tests import callback_payloads as payloads
from contract_tests.report import Finding, Outcome, Report, Status
from contract_tests.schemas import business_connect_problems, thinq_problems

Progress = Callable[[str], None]
Deliveries = list[dict[str, Any]]
SHOWN_CHARS = 4000


@dataclass
class Kind:
    """One kind of delivery: a name for the report and the payload sequences to send."""

    api: str  # "thinq" | "bc"
    name: str
    deliveries: st.SearchStrategy[Deliveries]

    @property
    def problems(self) -> Callable[[Any], list[str]]:
        return thinq_problems if self.api == "thinq" else business_connect_problems


def _single(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Deliveries]:
    return strategy.map(lambda payload: [payload])


def _shuffled(ordered: st.SearchStrategy[Deliveries]) -> st.SearchStrategy[Deliveries]:
    """The same messages in any order but their own (newest may come first)."""
    return ordered.flatmap(
        lambda items: st.permutations(items).filter(lambda perm: perm != items).map(list)
    )


def thinq_kinds(max_body_bytes: int) -> list[Kind]:
    kinds = []
    for push_type in payloads.CALLBACK_PUSH_TYPES:
        for success in (True, False):
            label = "success" if success else "per-device failure"
            kinds.append(
                Kind(
                    "thinq",
                    f"{push_type} callback ({label})",
                    _single(payloads.thinq_callback(push_type, success=success)),
                )
            )
    for push_type in payloads.MESSAGE_PUSH_TYPES:
        kinds.append(
            Kind("thinq", f"{push_type} message", _single(payloads.thinq_message(push_type)))
        )

    def anything(edges: payloads.Edges) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.sampled_from(payloads.CALLBACK_PUSH_TYPES).flatmap(
                lambda push_type: st.booleans().flatmap(
                    lambda success: payloads.thinq_callback(push_type, success=success, edges=edges)
                )
            ),
            st.sampled_from(payloads.MESSAGE_PUSH_TYPES).flatmap(
                lambda push_type: payloads.thinq_message(push_type, edges=edges)
            ),
        )

    large = payloads.Edges(large=True, max_body_bytes=max_body_bytes)
    kinds += [
        Kind(
            "thinq", "unknown extra fields", _single(anything(payloads.Edges(unknown_fields=True)))
        ),
        Kind(
            "thinq",
            "unicode text (aliases, types, messages)",
            _single(anything(payloads.Edges(unicode=True))),
        ),
        Kind(
            "thinq",
            f"large results (up to {max_body_bytes} bytes)",
            _single(
                st.one_of(
                    payloads.thinq_callback("DEVICE_STATUS", success=True, edges=large),
                    payloads.thinq_callback("DEVICE_PROFILE", success=True, edges=large),
                    payloads.thinq_message("DEVICE_STATUS", edges=large),
                )
            ),
        ),
        Kind("thinq", "duplicate delivery", anything(payloads.PLAIN).map(lambda p: [p, p])),
        Kind("thinq", "out-of-order delivery", _shuffled(payloads.status_reports_in_order())),
    ]
    return kinds


def bc_kinds(max_body_bytes: int) -> list[Kind]:
    def anything(edges: payloads.Edges) -> st.SearchStrategy[dict[str, Any]]:
        return st.sampled_from(payloads.MESSAGE_PUSH_TYPES).flatmap(
            lambda push_type: payloads.bc_message(push_type, edges=edges)
        )

    def in_order(messages: Deliveries) -> Deliveries:
        device = messages[0]["deviceId"]
        return [
            {**message, "deviceId": device, "timestamp": f"2026-01-01T00:00:{index:02d}.000000"}
            for index, message in enumerate(messages)
        ]

    large = payloads.Edges(large=True, max_body_bytes=max_body_bytes)
    ordered = st.lists(payloads.bc_message("DEVICE_STATUS"), min_size=2, max_size=4).map(in_order)
    return [
        Kind("bc", f"{push_type} push message", _single(payloads.bc_message(push_type)))
        for push_type in payloads.MESSAGE_PUSH_TYPES
    ] + [
        Kind("bc", "unknown extra fields", _single(anything(payloads.Edges(unknown_fields=True)))),
        Kind("bc", "unicode text", _single(anything(payloads.Edges(unicode=True)))),
        Kind(
            "bc",
            f"large reports (up to {max_body_bytes} bytes)",
            _single(payloads.bc_message("DEVICE_STATUS", edges=large)),
        ),
        Kind("bc", "duplicate delivery", anything(payloads.PLAIN).map(lambda p: [p, p])),
        Kind("bc", "out-of-order delivery", _shuffled(ordered)),
    ]


# ------------------------------------------------------------------------- running


class GeneratorBug(Exception):
    """A payload the spec forbids was drawn: a bug in lgmock, not in the receiver."""


class ReceiverFailed(AssertionError):
    pass


class ReceiverDown(AssertionError):
    pass


@dataclass
class _Failure:
    deliveries: Deliveries
    index: int
    problem: str


@dataclass
class CallbackTesterOptions:
    targets: dict[str, str]  # api -> URL
    timeout: float = 5.0
    max_examples: int = 20
    max_body_bytes: int = 256 * 1024
    seed: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds per kind of delivery after which shrinking stops at the smallest failure
    # found so far (each shrinking step is a real HTTP delivery).
    shrink_time: float = 20.0


class CallbackTester:
    def __init__(self, options: CallbackTesterOptions, progress: Progress = print) -> None:
        self.options = options
        self.progress = progress
        self.client = httpx.Client(timeout=options.timeout)
        self.down: _Failure | None = None

    def run(self) -> Report:
        targets = self.options.targets
        report = Report("lgmock contract callbacks: " + ", ".join(targets.values()))
        kinds = []
        if "thinq" in targets:
            kinds += thinq_kinds(self.options.max_body_bytes)
        if "bc" in targets:
            kinds += bc_kinds(self.options.max_body_bytes)
        try:
            for kind in kinds:
                report.add(self._test(kind))
            for api, url in targets.items():
                report.add(self._stays_up(api, url))
        finally:
            self.client.close()
        return report.finish()

    def _test(self, kind: Kind) -> Outcome:
        outcome = Outcome(kind.api, kind.name, "callback", checks={"answers_2xx_in_time"})
        if self.down is not None:
            outcome.status = Status.SKIPPED
            outcome.note = "the receiver is down (see the failure above)"
            return outcome
        url = self.options.targets[kind.api]
        failures: list[_Failure] = []
        sent = 0
        budget_ends = time.monotonic() + self.options.shrink_time

        def attempt(deliveries: Deliveries) -> None:
            nonlocal sent
            if self.down is not None:
                raise ReceiverDown(self.down.problem)
            if failures and time.monotonic() > budget_ends:
                # Out of time: shrinking may only confirm what already failed, so it
                # settles on the smallest failure found; anything new counts as passing.
                known = [f for f in failures if f.deliveries == deliveries]
                if not known:
                    return
                raise ReceiverFailed(known[-1].problem)
            for payload in deliveries:
                problems = kind.problems(payload)
                if problems:
                    raise GeneratorBug(f"{kind.name}: drew a payload the spec forbids: {problems}")
            for index, payload in enumerate(deliveries):
                sent += 1
                problem = self._post(url, payload)
                if problem is None:
                    continue
                failure = _Failure(deliveries, index, problem)
                failures.append(failure)
                if not self._alive(url):
                    self.down = failure
                    raise ReceiverDown(problem)
                raise ReceiverFailed(problem)

        test = settings(
            max_examples=self.options.max_examples,
            deadline=None,
            database=None,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            # No "explain" phase: it replays many variants of the failure over HTTP, slowly.
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            verbosity=Verbosity.quiet,
        )(given(kind.deliveries)(attempt))
        if self.options.seed is not None:
            test = hypothesis_seed(self.options.seed)(test)
        started = time.monotonic()
        flaky = False
        try:
            with warnings.catch_warnings():
                # Large payloads are the point of one kind; hypothesis warns about their repr.
                warnings.simplefilter("ignore", HypothesisWarning)
                test()
        except (ReceiverFailed, ReceiverDown):
            pass
        except Flaky:
            flaky = True
        except BaseExceptionGroup as group:  # hypothesis wraps flaky failures in a group
            if not group.subgroup((ReceiverFailed, ReceiverDown, Flaky)):
                raise
            flaky = True
        outcome.duration = time.monotonic() - started
        outcome.cases = sent
        if failures:
            # The last failure is hypothesis's final replay: the smallest failing example.
            # Once the receiver is down, the payload that brought it down is the one to show.
            shown = self.down if self.down is not None else failures[-1]
            outcome.fail(self._finding(url, shown, flaky=flaky, down=self.down is not None))
        self.progress(
            f"[{kind.api}] {kind.name:<48} {sent:>4} sent {outcome.duration:5.1f} s  "
            f"{'FAILED: ' + failures[-1].problem if failures else 'ok'}"
        )
        return outcome

    def _post(self, url: str, payload: dict[str, Any]) -> str | None:
        """None if the receiver answered 2xx in time; else what it did instead."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.options.headers}
        try:
            answer = self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return f"no answer within {self.options.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"connection failed: {exc!r}"
        if 200 <= answer.status_code < 300:
            return None
        return f"answered {answer.status_code}: {answer.text[:200]!r}"

    def _alive(self, url: str) -> bool:
        """Does anything still answer HTTP there (any status: a GET has no side effects)?"""
        for _ in range(3):
            try:
                self.client.get(url)
                return True
            except httpx.HTTPError:
                time.sleep(0.3)
        return False

    def _stays_up(self, api: str, url: str) -> Outcome:
        outcome = Outcome(api, "receiver_stays_up", "callback", cases=1)
        outcome.checks.add("receiver_stays_up")
        if self.down is not None or not self._alive(url):
            outcome.fail(
                Finding(
                    "receiver_stays_up",
                    "The receiver stopped answering",
                    f"{url} no longer accepts connections"
                    + (f" since: {self.down.problem}" if self.down else ""),
                )
            )
        else:
            outcome.note = f"{url} still answers after every delivery"
        return outcome

    def _finding(self, url: str, failure: _Failure, *, flaky: bool, down: bool) -> Finding:
        payload = failure.deliveries[failure.index]
        # Escaped, so an invisible character (U+0080, a zero-width space) shows.
        text = json.dumps(payload, indent=2)
        size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "\n... (cut)"
        which = (
            f"delivery {failure.index + 1} of {len(failure.deliveries)} in a row"
            if len(failure.deliveries) > 1
            else "the payload"
        )
        lead = (
            "The receiver went down handling this payload (not minimized: once it is down "
            "every payload fails)"
            if down
            else f"Smallest failing example, {which} ({size} bytes)"
        )
        notes = []
        if flaky:
            notes.append("The same payload did not fail every time: the receiver is flaky.")
        if len(failure.deliveries) > 1:
            earlier = [json.dumps(p)[:300] for p in failure.deliveries[: failure.index]]
            notes.append("Sent before it: " + "\n".join(earlier))
        message = "\n\n".join([f"{failure.problem}", f"{lead}:\n{shown}", *notes])
        compact = json.dumps(payload)
        reproduce = (
            f"curl -X POST {shlex.quote(url)} -H 'Content-Type: application/json' "
            f"--data-binary {shlex.quote(compact)}"
            if len(compact) <= SHOWN_CHARS
            else f"(the payload is {size} bytes: save the JSON above and POST it to {url})"
        )
        return Finding(
            "answers_2xx_in_time", "Receiver refused a valid delivery", message, reproduce
        )
