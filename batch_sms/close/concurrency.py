"""How many requests may be in flight: the run finds the number itself; --concurrency caps it.

Little's law: with n requests in flight, each answered in d seconds, a run makes at most n / d
requests a second. A fixed n rides a limit of R requests a second only while d stays below n / R
(8 in flight ride 40/s up to 200 ms an answer, and reach a fifth of 160/s at 250 ms), and Close
answers in 50 ms or in a second depending on the hour. So n follows what the run meets. It
grows only when it is what costs the run time (the pacer calls `held`): a request is held back
by the in-flight limit alone, and at this limit the budget would not be spent by the end of
the window. Held back by the budget or the cap, it never grows.

- **A known pace** (the `RateLimit` budget of the endpoint, or the user's --rate-limit): the
  limit jumps to what Little's law asks, the pace times the answer time, with headroom. The
  answer time counts the requests still in flight: once they are older than the answers so
  far, Close has slowed down, and the limit follows before the first slow answer is back. It
  comes back down, a step per answer, once it is more than twice what the pace needs.
- **No pace known** (no header, no cap): the limit doubles each time a growth has proved
  harmless; once 429s have come, it grows by a tenth at a time, since a limit that no header
  shows can only be found by overshooting it.
- **A growth must not only slow the answers down.** While it is on trial, the answer time of
  each request is set against how many were in flight when it started. If answers take longer
  in proportion to the number in flight, the server is queueing the extra requests (no more
  answers a second, only slower ones: a server slower than the pace, or no limit at all) and
  the limit goes back to where it was before the growth. When Close slows down for everyone,
  answer times do not depend on how many of ours are in flight, and the growth stays. So does
  a growth that brings answers faster than the old limit could have, even at the fastest
  answer time seen: a server answers a burst of new requests in turn, so answer times grow
  with the number in flight at the start of a run, though the burst raised the throughput.
- **429s and 503s** halve it, at most once a second (the answers to one burst are one signal),
  and hold growth back for a while. Under a budget that Close's headers announce, the budget,
  not the number in flight, decides how many start, and the header of a 429 puts the budget
  right and pauses the run until the window ends: a 429 there is a miscount at a window's edge
  (a request read a moment early or late), which fewer in flight would not prevent. Halving
  for those cost a run at 100/s and 1 s a third of its speed for several seconds (three stray
  429s in ten seconds, 0.3% of its requests). So under such a budget 429s halve the limit only
  once they pass 1% of the last ten seconds' answers (or of what the pace allowed in them, if
  more: halving must not make the same 429s a greater share), and then make growth gentle for
  the rest of the run: something the headers do not show is counting too.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

# The limit before any answer has told the run anything: the lowest limit Close is known to set
# (16 per window), so that the first burst cannot earn a 429 however tight the endpoint is.
INITIAL = 16
# In flight, beyond what the pace times the answer time needs: answer times vary from one
# request to the next, and starts come in bursts when a window opens.
HEADROOM = 1.5
SPARE = 2
# Above this many times what the pace needs, the limit comes down by one per answer.
SHRINK_ABOVE = 2.0
# A request in flight for s seconds says the answer time is now at least this share of s (the
# oldest one is often a slow straggler, so only a share of its age counts).
AGE_SHARE = 0.5
LATENCY_WEIGHT = 1 / 8  # of each new answer time in the running average
SLOW_DOWN_EVERY = 1.0  # seconds between halvings: a burst of 429s is one signal
# A second 429 within this many seconds of the last makes growth gentle (see GENTLE_GROWTH).
REPEATED_WITHIN = 10.0
# Under a budget the headers announce, 429s halve the limit only when more than this share of
# the answers of the last REPEATED_WITHIN seconds were 429s (the goal the run is held to).
TOLERATED_REFUSALS = 0.01
MIN_REFUSALS = 3
# Without a known pace, each growth doubles the limit; once gentle, it adds a tenth: a limit
# that no header shows is found by overshooting it, and each overshoot costs a burst of 429s.
GROWTH = 2.0
GENTLE_PROBE = 1.1
# After a growth was taken back or 429s came, growth is gentle: a trial at a time, each at most
# this many times the limit before it, however much more the pace asks for.
GENTLE_GROWTH = 1.5
# A trial needs this many answers, from requests started with in flight numbers at least JUMP
# times apart, to tell; without them by TRIAL_ROUNDS round trips (at least TRIAL_SECONDS), the
# growth stays.
TRIAL_ANSWERS = 24
JUMP = 1.5
TRIAL_ROUNDS = 4
TRIAL_SECONDS = 1.0
# How much of a change in the number in flight shows in the answer time: about 1 when the
# server queues our requests, about 0 when it does not. With a known pace the evidence must be
# strong: starts come in bursts, and the last of a burst waits on our own event loop too.
QUEUEING = 0.5
QUEUEING_AT_A_PACE = 0.8
HOLD_SECONDS = 2.0  # no growth for this long (at least 4 round trips) after taking one back
MAX_HOLD = 10.0


@dataclass(frozen=True)
class Mark:
    """What the controller noted when a request started."""

    started: float
    in_flight: int  # requests in flight as it started, itself included


@dataclass(frozen=True)
class Room:
    """What the budget still allows: `starts` more before its window ends in `seconds`."""

    starts: int
    seconds: float


class _Fit:
    """A least-squares line through (in flight at the start, answer time) pairs."""

    def __init__(self) -> None:
        self.count = 0
        self.fewest = math.inf
        self.most = 0.0
        self._n = self._d = self._nn = self._nd = 0.0

    def add(self, in_flight: float, took: float) -> None:
        self.count += 1
        self.fewest = min(self.fewest, in_flight)
        self.most = max(self.most, in_flight)
        self._n += in_flight
        self._d += took
        self._nn += in_flight * in_flight
        self._nd += in_flight * took

    def elasticity(self) -> float:
        """By what share the answer time grows when the number in flight grows by a share."""
        count = self.count
        spread = self._nn - self._n * self._n / count
        if spread <= 0 or self._d <= 0:
            return 0.0
        slope = (self._nd - self._n * self._d / count) / spread
        return slope * self._n / self._d


@dataclass
class _Trial:
    before: float  # the limit before the growth
    started: float
    ends: float  # with no verdict by then, the growth stays
    fit: _Fit
    paced: bool  # the growth followed a known pace, not a probe
    # The most answers a second the limit before could give: at the fastest answer time seen.
    rate_before: float
    answers: int = 0  # answers since the trial started, whichever request they answer


class InFlightControl:
    """The in-flight limit of one run; `limit` is read before every start.

    The pacer reports what happens: `started` and `answered` for each request, `congested`
    for a 429 or 503, `held` when the limit alone kept a request from starting. Times are
    seconds on the pacer's clock."""

    def __init__(self, ceiling: int, initial: int = INITIAL) -> None:
        if ceiling < 1:
            raise ValueError("the in-flight ceiling must be at least 1")
        self.ceiling = ceiling
        self._limit = float(min(initial, ceiling))
        self._latency: float | None = None
        self._fastest = math.inf  # the shortest answer time seen
        self._gentle = False
        self._hold_until = -math.inf
        self._last_slow_down = -math.inf
        self._trial: _Trial | None = None
        # When the answers, and the 429s within a budget, of the last REPEATED_WITHIN came.
        self._answers: deque[float] = deque()
        self._refusals: deque[float] = deque()

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    @property
    def latency(self) -> float | None:
        """The running average of answer times, None before the first answer."""
        return self._latency

    def answered(
        self,
        mark: Mark,
        now: float,
        pace: float | None,
        left: float | None = None,
        fresh: bool = False,
    ) -> None:
        """An answer came (any status) to the request `mark` started. `pace`: requests a second
        that the budget or the cap allows, None when neither is known; `left`: when the request
        actually left, if the transport said (a trial judges the server by the time from then);
        `fresh`: it went on a connection it opened, so its answer time holds the server's
        accepting that connection, a cost of the growth itself that no trial counts (requests
        beyond the last limit are the ones that open connections, so it would look like
        queueing)."""
        took = now - mark.started
        self._fastest = min(self._fastest, took)
        self._answers.append(now)
        _forget_before(self._answers, now - REPEATED_WITHIN)
        if self._latency is None:
            self._latency = took
        else:
            self._latency += (took - self._latency) * LATENCY_WEIGHT
        trial = self._trial
        if trial is not None:
            trial.answers += 1
            if mark.started >= trial.started and not fresh:
                trial.fit.add(mark.in_flight, now - (mark.started if left is None else left))
            self._judge(trial, now)
        if pace is not None and self._trial is None:
            self._shrink_towards(self._needed(pace, self._latency))

    def held(
        self, now: float, pace: float | None, oldest_age: float, room: Room | None
    ) -> float | None:
        """The limit kept a request from starting that nothing else held back. `oldest_age`:
        seconds since the oldest request in flight started; `room`: what the budget allows
        until its window ends, if known. Returns in how many seconds to look again if nothing
        else happens meanwhile (answers that do not come are news too), or None."""
        if self._latency is None:
            return None  # nothing to go by before the first answer
        latency = max(self._latency, oldest_age * AGE_SHARE)
        look_again = max(latency, 0.05) if pace is not None else None
        if now < self._hold_until or self._limit >= self.ceiling:
            return look_again
        if room is not None and self._limit * room.seconds >= room.starts * latency:
            return look_again  # the budget runs out before the window ends all the same
        if self._trial is not None and (self._gentle or pace is None):
            return look_again  # one trial at a time
        if pace is not None:
            wanted = self._needed(pace, latency)
        else:
            wanted = self._limit * (GENTLE_PROBE if self._gentle else GROWTH)
        if self._gentle:
            wanted = min(wanted, self._limit * GENTLE_GROWTH)
        self._grow(max(wanted, self._limit + 1), now, paced=pace is not None)
        return look_again

    def congested(self, now: float, pace: float | None, within_budget: bool = False) -> None:
        """A 429 or a 503: halve the limit, at most once a second, and hold growth back.
        `within_budget`: a 429 to a request started within the budget Close's headers announce,
        which halves it only once such 429s are more than TOLERATED_REFUSALS of the answers
        (see the module's docstring)."""
        if within_budget:
            self._refusals.append(now)
            _forget_before(self._refusals, now - REPEATED_WITHIN)
            # Of the answers, or of what the pace allows in that time if more: once the limit
            # is halved, fewer answers come, and the same 429s would make a greater share.
            answers = max(len(self._answers), (pace or 0.0) * REPEATED_WITHIN)
            if (
                len(self._refusals) < MIN_REFUSALS
                or len(self._refusals) <= TOLERATED_REFUSALS * answers
            ):
                return
        since = now - self._last_slow_down
        if since < SLOW_DOWN_EVERY:
            return
        self._last_slow_down = now
        self._set(self._limit / 2)
        self._gentle = self._gentle or pace is None or within_budget or since < REPEATED_WITHIN
        self._trial = None
        self._hold_until = now + max(SLOW_DOWN_EVERY, 2 * (self._latency or 0.0))

    def _needed(self, pace: float, latency: float) -> float:
        return math.ceil(pace * latency * HEADROOM) + SPARE

    def _shrink_towards(self, needed: float) -> None:
        if self._limit > SHRINK_ABOVE * needed:
            self._set(max(needed, self._limit - 1))

    def _set(self, limit: float) -> None:
        self._limit = min(float(self.ceiling), max(1.0, limit))

    def _grow(self, wanted: float, now: float, paced: bool) -> None:
        if wanted <= self._limit + 0.5:
            return
        if self._trial is None:
            length = max(TRIAL_SECONDS, TRIAL_ROUNDS * (self._latency or 0.0))
            rate_before = self._limit / self._fastest if self._fastest > 0 else math.inf
            self._trial = _Trial(self._limit, now, now + length, _Fit(), paced, rate_before)
        self._set(wanted)

    def _judge(self, trial: _Trial, now: float) -> None:
        fit = trial.fit
        if fit.count >= TRIAL_ANSWERS and fit.most >= JUMP * fit.fewest:
            rate = trial.answers / (now - trial.started) if now > trial.started else 0.0
            pays = rate >= JUMP * trial.rate_before  # faster than the old limit could give
            queueing = fit.elasticity() >= (QUEUEING_AT_A_PACE if trial.paced else QUEUEING)
            if queueing and not pays:
                # Slower answers in proportion to the number in flight: the server only
                # queued the extra requests. Without a pace, growth is a probe: gentle from now.
                self._set(trial.before)
                self._gentle = self._gentle or not trial.paced
                hold = max(HOLD_SECONDS, 4 * (self._latency or 0.0))
                self._hold_until = now + min(MAX_HOLD, hold)
            self._trial = None
        elif now >= trial.ends:
            self._trial = None


def _forget_before(times: deque[float], moment: float) -> None:
    while times and times[0] < moment:
        times.popleft()
