"""The promise a fault scenario checks, whatever the fault and whichever worker engine ran
it (issue 11's "must show"): every generation ended succeeded, or failed for a reason the
API gave; no paid result lost; no double charge but the inherent ones the scenario
counts; no row left running; no orphan file and no receipt left; no worker process
exited on its own.

The witnesses are independent of the code under test: the emulator's log says which
calls were paid (a 200 with an image; it logs the reply before sending it, so a call
whose worker died waiting for the answer is paid too), storage lists the files, the
rows say what was recorded. A call is matched to its generation by prompt (a scenario
gives each generation its own prompt) and the recorded result to the paid call by
Gemini's ``responseId``, which the row keeps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from aigen_app.client import GenerationTimeoutError, TransportError
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services.errors import RUN_ERROR_CODES
from aigen_app.services.receipts import FOLDER as RECEIPTS
from tests.support import Media
from tests.support.storages import referenced_files

from .workers import Workers

# Replies that carry an image: what the API bills as a generated image.
PAID_OUTCOMES = frozenset({"ok", "latency"})
# Failures the client or the services decide on their own (a timeout, a lost connection,
# a dead worker, a file that could not be saved): none of them is the API's reason.
NOT_THE_APIS = frozenset({*RUN_ERROR_CODES, GenerationTimeoutError.code, TransportError.code})


@dataclass
class Outcome:
    """What a scenario left behind, by generation id."""

    generations: int = 0
    # Not succeeded, and not failed or blocked for a reason the API gave: "status (code)".
    not_ended: dict[str, str] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    # Paid for, but the row does not hold one of the paid images.
    lost: list[str] = field(default_factory=list)
    # Paid calls beyond the first.
    double_charges: dict[str, int] = field(default_factory=dict)
    # Succeeded without any paid call the emulator saw: the matching is broken.
    unpaid_successes: list[str] = field(default_factory=list)
    orphans: set[str] = field(default_factory=set)
    receipts: list[str] = field(default_factory=list)
    exited: dict[str, int] = field(default_factory=dict)
    paid_calls: int = 0

    def summary(self) -> str:
        return (f"{self.generations} generations, {self.paid_calls} paid calls, "
                f"{len(self.not_ended)} not ended, {len(self.running)} running, "
                f"{len(self.lost)} paid results lost, "
                f"{sum(self.double_charges.values())} double charges, "
                f"{len(self.orphans)} orphan files, {len(self.receipts)} receipts left, "
                f"{len(self.exited)} workers exited on their own")


def ended_by_the_api(generation: Generation) -> bool:
    """Succeeded, or failed/blocked for a reason an API reply gave."""
    if generation.status == GenerationStatus.SUCCEEDED:
        return True
    return (generation.status in (GenerationStatus.FAILED, GenerationStatus.BLOCKED)
            and generation.api_attempts > 0 and generation.error_code not in NOT_THE_APIS)


def outcome_of(emulator: EmulatorServer, media: Media,
               workers: Workers | None = None) -> Outcome:
    generations = list(Generation.objects.order_by("created_at"))
    by_prompt = {g.prompt: str(g.pk) for g in generations}
    assert len(by_prompt) == len(generations), "give each generation its own prompt"
    paid: dict[str, list[str]] = {str(g.pk): [] for g in generations}
    outcome = Outcome(generations=len(generations))
    for entry in emulator.requests():
        if entry.status == 200 and entry.outcome in PAID_OUTCOMES:
            assert entry.prompt in by_prompt, f"a paid call for no generation: {entry.prompt!r}"
            paid[by_prompt[entry.prompt]].append(entry.response_id)
            outcome.paid_calls += 1
    files = set(media.files())
    for generation in generations:
        pk, calls = str(generation.pk), paid[str(generation.pk)]
        if not ended_by_the_api(generation):
            outcome.not_ended[pk] = f"{generation.status} ({generation.error_code})"
        if generation.status == GenerationStatus.RUNNING:
            outcome.running.append(pk)
        recorded = (generation.status == GenerationStatus.SUCCEEDED
                    and generation.response_id in calls and generation.image.name in files)
        if calls and not recorded:
            outcome.lost.append(pk)
        if generation.status == GenerationStatus.SUCCEEDED and not calls:
            outcome.unpaid_successes.append(pk)
        if len(calls) > 1:
            outcome.double_charges[pk] = len(calls) - 1
    outcome.receipts = sorted(name for name in files if name.startswith(f"{RECEIPTS}/"))
    outcome.orphans = files - referenced_files() - set(outcome.receipts)
    if workers is not None:
        outcome.exited = workers.exited_on_their_own()
    return outcome


def check_outcome(emulator: EmulatorServer, media: Media, workers: Workers | None = None, *,
                  inherent: Collection[str] = ()) -> Outcome:
    """Assert the promise; ``inherent``: generations the scenario paid twice on purpose
    (a worker killed while the API generated), each allowed exactly one extra call, and
    each required to have it, so the count is exact."""
    outcome = outcome_of(emulator, media, workers)
    assert outcome.generations, "the scenario ran no generation"
    assert outcome.not_ended == {}, outcome.summary()
    assert outcome.running == [], outcome.summary()
    assert outcome.lost == [], outcome.summary()
    assert outcome.unpaid_successes == [], outcome.summary()
    assert outcome.double_charges == dict.fromkeys(map(str, inherent), 1), outcome.summary()
    assert outcome.orphans == set(), outcome.summary()
    assert outcome.receipts == [], outcome.summary()
    assert outcome.exited == {}, outcome.summary()
    return outcome


def state_of(workers: Workers, emulator: EmulatorServer | None = None) -> str:
    """What a scenario that timed out left: the generations not succeeded, the API calls,
    each worker's exit status and the end of its log (for ``wait_until``'s ``explain``)."""
    lines = [f"{g.pk}: {g.status} attempts={g.attempts} {g.error_code} {g.error_message[:120]}"
             for g in Generation.objects.exclude(status=GenerationStatus.SUCCEEDED)]
    if emulator is not None:
        lines.append(f"API calls: {[e.outcome for e in emulator.requests()]}")
    for name, code in workers.alive().items():
        tail = workers.log(name).splitlines()[-15:]
        lines += [f"worker {name} (exit status {code}), its log's end:", *tail]
    return "\n".join(lines)
