"""wait with a timeout against loopd: loopd.wait is held by the daemon
and returns the done and the pending calls; cancelling a running call
stops its command, and awaiting it then raises asyncio.CancelledError."""
import asyncio

import loopd

phase = loopd.Command(["sh", "-c", 'sleep "$1"; echo "phase $2 result"', "phase"])


async def main(num_phases):
    loop = loopd.connect_async()
    print("starting main")
    phases = [await loop.call_soon(phase, 0.1 + i, i) for i in range(num_phases)]
    print("waiting 0.5 for phases to complete")
    done, pending = await loopd.wait(phases, timeout=0.5)
    events = []         # what loopd did meanwhile, in its order
    for i, p in enumerate(phases):
        await p.refresh()
        events.append((p.started, "in phase {}".format(i)))
        if p in done:
            events.append((p.finished, "done with phase {}".format(i)))
    for _, line in sorted(events):
        print(line)
    print("{} completed and {} pending".format(len(done), len(pending)))
    if pending:
        print("cancelling tasks")
        for p in phases:
            if p in pending:
                await p.cancel()
        for i, p in enumerate(phases):
            if p in pending:
                try:
                    await p
                except asyncio.CancelledError:
                    print("phase {} cancelled".format(i))
    print("exiting main")
    await loop.close()


asyncio.run(main(3))
