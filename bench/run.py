"""`make bench`: end-to-end benchmarks of the app served by uvicorn on PostgreSQL and
Redis, reached only through HTTP, Server-Sent Events and websockets, each scenario against
a baseline measured in the same run. Prints a table per scenario and writes them all to
bench/RESULTS.md (see the README, "Performance").

    python bench/run.py [--only latency,concurrency,cost,reads,processes]
                        [--replies 30] [--concurrency 50,200] [--results bench/RESULTS.md]

The model is bench/upstream.py, streaming the tokens each prompt asks for. Every client
gives up after a timeout and counts it, so a stuck server shows in the tables instead of
hanging the run. The processes' logs are in /tmp/chatproject-bench/.
"""

import argparse
import asyncio
import math
import os
import platform
import resource
import shlex
import signal
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import (
    Client,
    Process,
    Reply,
    accounts_create,
    clock,
    database_analyze,
    database_counters,
    database_reset,
    direct_client,
    direct_reply,
    servers,
    stored_text,
    upstream_start,
)

NONE = "-"  # a figure that does not apply
INTERVAL = 0.01  # every reply streams at 100 tokens a second
TRANSPORTS = ("direct", "SSE", "websocket")
OUTCOME = "completed|failed|no end|why not completed|text ≠ stored|lost deltas|dup deltas"


def prompt(tokens: int) -> str:
    """What the user sends: the bench's model reads how to answer from it."""
    return f"tokens={tokens} interval={INTERVAL}"


def timeout_for(tokens: int, together: int = 1) -> float:
    """How long a client waits for a reply's end before it counts it as `no end`."""
    return 30 + tokens * INTERVAL * (2 + together / 10)


def percentile(values, share: float) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else None


def ms(seconds: float | None) -> str:
    return NONE if seconds is None else f"{seconds * 1000:,.0f}"


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Report:
    """The tables of one run: printed as they come, then written as markdown."""

    def __init__(self):
        self.sections: list[str] = []
        self.machine = machine()  # before the bench loads it

    def table(self, title: str, note: str, header: str, rows: list[list]) -> None:
        cells = [header.split("|"), *[[str(cell) for cell in row] for row in rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

        def line(row):
            return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

        rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
        text = "\n".join([f"### {title}", "", note, "", *map(line, cells[:1]), rule])
        text += "\n" + "\n".join(map(line, cells[1:]))
        print(f"\n{text}\n", flush=True)
        self.sections.append(text)

    def write(self, path: Path, command: str) -> None:
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        head = f"# Bench results\n\nMeasured {when} by `{command}` on {self.machine}.\n"
        head += 'See the README, "Performance", for what each table measures.\n\n'
        path.write_text(head + "\n\n".join(self.sections) + "\n")
        print(f"Written to {path}")


def machine() -> str:
    models = [line for line in Path("/proc/cpuinfo").read_text().splitlines()
              if line.startswith("model name")]  # fmt: skip
    model = models[0].split(":", 1)[1].strip() if models else platform.machine()
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GiB memory, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start; "
        "PostgreSQL, Redis, the model and the clients run on it too"
    )


@dataclass
class Phase:
    """Replies of one path, what the server stored of them, and the CPU it all took."""

    replies: list[Reply]
    stored: list[dict | None] | None = None  # None: no server (direct)
    server_cpu: float | None = None
    bench_cpu: float = 0.0

    def outcome(self) -> list:
        """The OUTCOME columns."""
        replies, ended = self.replies, [r for r in self.replies if r.end is not None]
        completed = sum(reply.status == "completed" for reply in replies)
        why = Counter(r.error or r.status for r in replies if r.status != "completed")
        why = ", ".join(f"{reason} {times}" for reason, times in why.most_common()) or NONE
        row = [completed, len(ended) - completed, len(replies) - len(ended), why]
        if self.stored is None:
            return [*row, NONE, NONE, NONE]
        pairs = [(r, m) for r, m in zip(replies, self.stored, strict=True) if r.end is not None]
        wrong = sum(m is not None and r.text != stored_text(m) for r, m in pairs)
        unread = sum(m is None for _, m in pairs)
        wrong = f"{wrong} ({unread} not read)" if unread else wrong
        seqs = [reply.seqs for reply in replies if reply.seqs]
        lost = sum(max(seq) - len(set(seq)) for seq in seqs)
        return [*row, wrong, lost, sum(len(seq) - len(set(seq)) for seq in seqs)]

    def cpu(self) -> str:
        server = NONE if self.server_cpu is None else f"{self.server_cpu:.1f}"
        return f"{server} / {self.bench_cpu:.1f}"


async def replies_at_once(transport, upstream, account, count: int, tokens: int):
    """`count` replies of `tokens` tokens at once over `transport` through a fresh server,
    or straight from the model ("direct")."""
    timeout, bench_cpu = timeout_for(tokens, count), own_cpu_seconds()
    if transport == "direct":
        sdk = direct_client(upstream)
        calls = [direct_reply(sdk, prompt(tokens), timeout) for _ in range(count)]
        replies = list(await asyncio.gather(*calls))
        await sdk.close()
        return Phase(replies, bench_cpu=own_cpu_seconds() - bench_cpu)
    async with servers(upstream) as [server]:
        client = Client(server, account)
        try:
            ids = await client.conversations(count + 1)
            await client.ws_replies(ids[-1:], prompt(5), timeout, together=False)  # warm up
            server_cpu, bench_cpu = server.cpu_seconds(), own_cpu_seconds()
            if transport == "SSE":
                calls = [client.sse_reply(i, prompt(tokens), timeout) for i in ids[:-1]]
                replies = list(await asyncio.gather(*calls))
            else:
                replies = await client.ws_replies(ids[:-1], prompt(tokens), timeout, together=True)
            server_cpu, bench_cpu = server.cpu_seconds() - server_cpu, own_cpu_seconds() - bench_cpu
            return Phase(replies, await client.stored_replies(replies), server_cpu, bench_cpu)
        finally:
            await client.close()


async def latency(upstream, accounts, report: Report, args) -> None:
    """1. One reply at a time: how long until its first delta, against the model itself,
    in new conversations, in conversations that go on a turn a reply (as a chat does),
    and in conversations of `args.large` messages (the model reads the whole branch, so
    the baseline sends the SDK the same history). The paths take turns, a reply each, so
    that the machine speeding up or slowing down meanwhile (it does, on shared cores)
    moves them alike."""
    tokens, timeout = 20, timeout_for(20)
    history = [_chat_message(row) for row in export(args.large, "")["messages"]]
    going_paths = [f"{path}, going on" for path in TRANSPORTS]
    long_paths = [f"{path}, {args.large:,} messages" for path in TRANSPORTS]
    replies = {path: [] for path in (*TRANSPORTS, *going_paths, *long_paths)}
    # What the model has read in the conversations that go on: each turn and its answer.
    going_history = []
    sdk = direct_client(upstream)
    async with servers(upstream) as [server]:
        client = Client(server, accounts["bench"])
        try:
            ids = await client.conversations(2 * args.replies + 1)
            going_sse, going_ws = await client.conversations(2)
            # Each long conversation grows by a turn a reply, as a long chat does.
            long_sse, long_ws = await imports(client, 2, args.large)
            database_analyze()
            await client.ws_replies(ids[-1:], prompt(5), timeout, together=False)  # warm up
            for sse_id, ws_id in zip(ids[: args.replies], ids[args.replies : -1], strict=True):
                for (direct, sse, websocket), asked, sse_to, ws_to in (
                    (TRANSPORTS, (), sse_id, ws_id),
                    (going_paths, going_history, going_sse, going_ws),
                    (long_paths, history, long_sse, long_ws),
                ):
                    reply = await direct_reply(sdk, prompt(tokens), timeout, asked)
                    replies[direct].append(reply)
                    replies[sse].append(await client.sse_reply(sse_to, prompt(tokens), timeout))
                    replies[websocket] += await client.ws_replies(
                        [ws_to], prompt(tokens), timeout, together=False
                    )
                    if asked is going_history:
                        going_history += [
                            {"role": "user", "content": prompt(tokens)},
                            {"role": "assistant", "content": reply.text},
                        ]
            stored = {
                path: await client.stored_replies(replies[path])
                for path in (*TRANSPORTS[1:], *going_paths[1:], *long_paths[1:])
            }
        finally:
            await client.close()
            await sdk.close()
    rows = []
    for paths in (TRANSPORTS, going_paths, long_paths):
        direct = None
        for path in paths:
            phase = Phase(replies[path], stored.get(path))
            firsts = [reply.first for reply in phase.replies]
            p50, p95 = percentile(firsts, 0.5), percentile(firsts, 0.95)
            direct = direct or (p50, p95)
            overhead = NONE
            if path != paths[0] and p50 is not None:
                # A tenth of a millisecond: the overhead is a few milliseconds.
                overhead = f"+{(p50 - direct[0]) * 1000:.1f} / +{(p95 - direct[1]) * 1000:.1f}"
            rows.append([path, len(phase.replies), ms(p50), ms(p95), overhead, *phase.outcome()])
    report.table(
        "1. First-delta latency, one reply at a time",
        f"{args.replies} replies of {tokens} tokens at 100 tokens/s on each path, one after the "
        "other, the paths taking turns (direct, SSE, websocket, then the same in long "
        "conversations, direct, ...), on one server, from the request (SSE: `POST "
        "/api/conversations/<id>/continue/`; websocket: the `message.create` frame on a tab "
        "already open; direct: the SDK on the model) to the first text. Each reply "
        "of the first three paths starts a new conversation; those of the next three go on "
        "in one conversation per path, as a chat does (the direct SDK sends the model the "
        "turns before, as the app does: up to 60 messages); those of the last three in a "
        f"conversation imported with {args.large:,} messages (`--large`), one per path, "
        "which grows by each turn, and the direct SDK sends the model the same "
        f"{args.large:,} messages before the question. The SDK sends its requests as the app "
        "does, with `post` and a plain JSON body: `create` takes longer to build its typed "
        "request from 1,000 messages than the model takes to answer them.",
        f"path|replies|first p50 ms|first p95 ms|overhead p50 / p95 ms|{OUTCOME}",
        rows,
    )


def _chat_message(row: dict) -> dict:
    """A message of an export as the model reads it (Chat Completions)."""
    return {"role": row["role"], "content": row["content"][0]["text"]}


async def concurrency(upstream, accounts, report: Report, args) -> None:
    """2. Many replies at once: latency, and whether every tab got every reply whole."""
    tokens = 200
    for count in args.concurrency:
        rows = []
        for transport in TRANSPORTS:
            started = clock()
            phase = await replies_at_once(transport, upstream, accounts["bench"], count, tokens)
            firsts, ends = [r.first for r in phase.replies], [r.end for r in phase.replies]
            figures = [percentile(v, share) for v in (firsts, ends) for share in (0.5, 0.95)]
            rows.append([transport, count, *map(ms, figures), *phase.outcome(), phase.cpu(),
                         f"{clock() - started:.0f}"])  # fmt: skip
        report.table(
            f"2. {count} replies at once",
            f"{count} replies of {tokens} tokens at 100 tokens/s started together, each in its "
            f"own conversation (alone, one takes {tokens * INTERVAL:.0f} s); a client gives up "
            f"after {timeout_for(tokens, count):.0f} s (`no end`). Text and `seq` are checked "
            "against the reply as stored (`GET /api/messages/<id>/`). CPU: seconds used by "
            "the server process and by the bench's clients (one process) while they ran.",
            f"path|replies|first p50 ms|first p95 ms|end p50 ms|end p95 ms|{OUTCOME}"
            "|CPU s server / bench|phase s",
            rows,
        )


async def settled_counters() -> tuple[int, int]:
    """The database's counters once the stopped server's connections have reported."""
    last = None
    for _ in range(20):
        now = await asyncio.to_thread(database_counters)
        if now == last:
            break
        last = now
        await asyncio.sleep(0.5)
    return last


async def server_cost(upstream, account, tokens: int, count: int) -> dict:
    """A fresh server's cost for `count` replies of `tokens` tokens at once over websockets,
    once it has warmed up with a short reply (`tokens` 0: the baseline, start-up, the same
    conversations and tabs and the warm-up reply, no other)."""
    before = await asyncio.to_thread(database_counters)
    async with servers(upstream) as [server]:
        client = Client(server, account)
        *ids, warm_up = await client.conversations(count + 1)
        tabs = [await client.tab(i) for i in ids]
        timeout = timeout_for(tokens, count)
        # Its first reply costs a fresh process more (imports, the model's client): a
        # server that has run for a while does not pay that again.
        await client.ws_replies([warm_up], prompt(5), timeout, together=False)
        cpu, loop, replies = server.cpu_seconds(), server.loop_cpu_seconds(), []
        if tokens:
            calls = [client.ws_reply(tab, prompt(tokens), timeout) for tab in tabs]
            replies = await asyncio.gather(*calls)
        cpu, loop = server.cpu_seconds() - cpu, server.loop_cpu_seconds() - loop
        peak = server.peak_rss_mb()
        for tab in tabs:
            await tab.close()
        await client.close()
    after = await settled_counters()
    xacts, rows = after[0] - before[0], after[1] - before[1]
    completed = sum(reply.status == "completed" for reply in replies)
    return {
        "cpu": cpu, "loop": loop, "peak": peak, "xacts": xacts, "rows": rows, "completed": completed
    }  # fmt: skip


async def cost(upstream, accounts, report: Report, args) -> None:
    """3. What one reply costs the server: CPU, memory, transactions, rows."""
    count = args.cost_replies
    idle = await server_cost(upstream, accounts["bench"], 0, count)
    rows = [["none (baseline)", 0, NONE, f"{idle['peak']:.0f}", idle["xacts"], idle["rows"], NONE]]
    for tokens in (200, 2000):
        run = await server_cost(upstream, accounts["bench"], tokens, count)
        per_reply = [(run[key] - idle[key]) / count for key in ("xacts", "rows")]
        total, loop = (run[key] / count for key in ("cpu", "loop"))
        cpu = f"{total:.3f} ({loop:.3f} + {total - loop:.3f})"
        rows.append([f"{tokens:,} tokens", count, cpu, f"{run['peak']:.0f}",
                     *(f"{value:.1f}" for value in per_reply), run["completed"]])  # fmt: skip
    report.table(
        "3. Server cost per reply",
        f"{count} replies at once over websockets at 100 tokens/s, on a fresh server process "
        "warmed up by one short reply. "
        "CPU: utime+stime of the server process (children included) from the first "
        "`message.create` to the last reply's end, per reply, and in brackets that of its "
        "main thread (the event loop: sockets, frames, the model's stream) + that of its "
        "other threads (the database steps, above all). Peak RSS: its VmHWM. "
        "Transactions (`xact_commit + xact_rollback` of the bench database) and rows written "
        "(`n_tup_ins + n_tup_upd + n_tup_del` over its tables) from the server's start to its "
        "stop, less the baseline (the same server, conversations, tabs and warm-up reply, "
        "without the others; its row shows totals), per reply.",
        "replies of|replies|CPU s/reply (loop + threads)|peak RSS MB|transactions/reply"
        "|rows written/reply|completed",
        rows,
    )


def export(messages: int, title: str) -> dict:
    """A conversation in the import format: `messages` turns, every other one a markdown
    reply."""
    question = "How do I deploy a Django app behind nginx with websockets, step by step?"
    answer = (
        "Run **uvicorn** behind nginx and pass the `Upgrade` header:\n\n"
        "1. Install the app and run `manage.py migrate`.\n2. Start uvicorn on a local port.\n"
        "3. Proxy `/ws/` with `proxy_http_version 1.1`.\n\n```nginx\nlocation /ws/ {\n"
        "    proxy_pass http://127.0.0.1:8000;\n}\n```\n"
    )
    rows = []
    for index in range(messages):
        item = {"type": "output_text", "text": answer}
        if index % 2 == 0:
            item = {"type": "input_text", "text": question}
        rows.append({"id": f"m{index}", "parent_id": f"m{index - 1}" if index else None,
                     "role": "assistant" if index % 2 else "user", "content": [item]})  # fmt: skip
    conversation = {"title": title, "current_leaf_id": f"m{messages - 1}"}
    return {"format": "chatproject.conversation", "version": 1, "conversation": conversation,
            "messages": rows}  # fmt: skip


async def timed_gets(client: Client, path: str, times: int) -> tuple[list[float], int]:
    seconds, size = [], 0
    for _ in range(times + 2):  # two to warm up
        started = clock()
        response = await client.http.get(path)
        response.raise_for_status()
        seconds.append(clock() - started)
        size = len(response.content)
    return seconds[2:], size


async def imports(client: Client, count: int, messages: int) -> list[str]:
    """`count` conversations of `messages` messages, through the import endpoint (four
    requests at a time)."""
    gate = asyncio.Semaphore(4)

    async def one(index):
        async with gate:
            data = export(messages, f"c{index}")
            return (await client.post("/api/conversations/import/", data))["id"]

    return await asyncio.gather(*(one(index) for index in range(count)))


async def reads(upstream, accounts, report: Report, args) -> None:
    """4. Read endpoints, small and large."""
    small, large = 10, args.large
    async with servers(upstream) as [server]:
        bench, few, many = (Client(server, accounts[name]) for name in ("bench", "few", "many"))
        try:
            [short], [long] = await imports(bench, 1, small), await imports(bench, 1, large)
            await imports(few, small, 10)
            await imports(many, large, 10)
            await asyncio.to_thread(database_analyze)
            detail, listing, search = "/api/conversations/<id>/", "/api/conversations/", "?q=deploy"
            requests = [
                (detail, f"{small} messages", bench, detail.replace("<id>", short)),
                (detail, f"{large:,} messages", bench, detail.replace("<id>", long)),
                (listing, f"{small} conversations", few, listing),
                (listing, f"{large:,} conversations", many, listing),
                (listing + search, f"{small} conversations", few, listing + search),
                (listing + search, f"{large:,} conversations", many, listing + search),
            ]
            rows = []
            for shown, size, client, path in requests:
                seconds, length = await timed_gets(client, path, args.gets)
                figures = [ms(percentile(seconds, share)) for share in (0.5, 0.95)]
                rows.append([f"`GET {shown}`", size, *figures, f"{length:,}"])
        finally:
            for client in (bench, few, many):
                await client.close()
    report.table(
        "4. Read endpoints",
        f"{args.gets} requests one after the other, after two to warm up; conversations made "
        "through `POST /api/conversations/import/`, 10 messages each unless said, every "
        "other one a markdown reply, then `ANALYZE` (as autovacuum would soon run it). "
        "Lists are paginated, 50 a page.",
        "request|with|p50 ms|p95 ms|bytes",
        rows,
    )


async def across(upstream, account, runs: int, *, other: bool, cancel: bool) -> list[dict]:
    """Replies started over SSE on one server and watched on a tab of another (or of the
    same one); with `cancel`, stopped after their first delta through `POST .../cancel/`
    on the watching one."""
    results, tokens = [], 1000 if cancel else 100
    expected = "cancelled" if cancel else "completed"
    async with servers(upstream, 2 if other else 1) as started:
        starter, watcher = Client(started[0], account), Client(started[-1], account)
        try:
            for conversation_id in await starter.conversations(runs):
                tab, begun = await watcher.tab(conversation_id), clock()
                request = asyncio.create_task(
                    starter.sse_reply(conversation_id, prompt(tokens), timeout_for(tokens))
                )
                seen = await watcher.watch(tab, 30, started=begun, until=lambda r: r.first)
                cancelled = None
                if cancel and seen.id and seen.end is None:
                    cancelled = clock() - begun
                    await watcher.post(f"/api/messages/{seen.id}/cancel/", {})
                if seen.end is None and seen.error is None:
                    seen = await watcher.watch(tab, timeout_for(tokens), seen, begun)
                sse = await request
                await tab.close()
                stored = await watcher.stored(seen) or {"status": None}
                whole = seen.text == stored_text(stored) if stored["status"] else False
                ok = whole and seen.status == sse.status == stored["status"] == expected
                end = seen.end - cancelled if cancelled and seen.end else seen.end
                results.append({"ok": ok, "first": seen.first, "end": end})
        finally:
            await starter.close()
            await watcher.close()
    return results


async def processes(upstream, accounts, report: Report, args) -> None:
    """5. Two server processes: a reply started on one, watched and stopped on the other."""
    rows = []
    for other in (False, True):
        where = "process B" if other else "process A (baseline)"
        for cancel in (False, True):
            account = accounts["bench"]
            results = await across(upstream, account, args.runs, other=other, cancel=cancel)
            firsts, ends = [r["first"] for r in results], [r["end"] for r in results]
            measured = "cancel → final frame" if cancel else "request → final frame"
            rows.append([f"{'stopped' if cancel else 'watched'} on {where}", args.runs,
                         sum(r["ok"] for r in results), ms(percentile(firsts, 0.5)),
                         f"{ms(percentile(ends, 0.5))} ({measured})"])  # fmt: skip
    report.table(
        "5. Two server processes sharing PostgreSQL and Redis",
        f"{args.runs} replies each, started by an SSE `POST .../continue/` on process A and "
        "watched on a websocket of process B (or of A, the baseline): 100 tokens to the "
        "end, or 1,000 tokens stopped after the first delta by `POST "
        "/api/messages/<id>/cancel/` on the watching process. OK: the tab's text is the "
        "stored text, and the tab, the SSE stream and the database agree on the end "
        "(`completed`, or `cancelled`).",
        "reply|runs|ok|first delta on the tab p50 ms|p50 ms",
        rows,
    )


SCENARIOS = {
    "latency": latency,
    "concurrency": concurrency,
    "cost": cost,
    "reads": reads,
    "processes": processes,
}


async def bench(args, report: Report) -> None:
    started = clock()
    print("Making the bench database...", flush=True)
    await asyncio.to_thread(database_reset)
    accounts = await asyncio.to_thread(accounts_create, "bench", "few", "many")
    upstream = await upstream_start()
    try:
        for name in args.only:
            print(f"Scenario {name} ({clock() - started:.0f} s in)...", flush=True)
            try:
                await SCENARIOS[name](upstream, accounts, report, args)
            except Exception:
                # Reported; the other scenarios still run.
                traceback.print_exc()
                report.sections.append(f"### {name}\n\nFailed:\n\n```\n{traceback.format_exc()}```")
    finally:
        upstream.stop()
    print(f"Done in {clock() - started:.0f} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    numbers = lambda text: [int(part) for part in text.split(",")]  # noqa: E731
    parser.add_argument("--only", type=lambda text: text.split(","), default=list(SCENARIOS))
    parser.add_argument("--replies", type=int, default=30, help="one after the other (1)")
    parser.add_argument("--concurrency", type=numbers, default=[50, 200], help="at once (2)")
    parser.add_argument("--cost-replies", type=int, default=10, help="at once (3)")
    parser.add_argument("--large", type=int, default=1000, help="messages, conversations (4)")
    parser.add_argument("--gets", type=int, default=20, help="requests per endpoint (4)")
    parser.add_argument("--runs", type=int, default=5, help="replies per check (5)")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    if set(args.only) - set(SCENARIOS):
        parser.error(f"--only takes {','.join(SCENARIOS)}")
    report = Report()
    # A `kill` stops the servers as Ctrl-C does (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(bench(args, report))
        else:
            uvloop.run(bench(args, report))
    finally:
        Process.stop_all()
    given = f" BENCH_ARGS={shlex.quote(shlex.join(sys.argv[1:]))}" if sys.argv[1:] else ""
    report.write(args.results, f"make bench{given}")


if __name__ == "__main__":
    main()
