"""gather against loopd: two commands run at once; loopd.gather is held by
the daemon until both are done. When each phase began and ended is loopd's
own record (the calls' started and finished times)."""
import asyncio

import loopd

phase = loopd.Command(["sh", "-c", 'sleep "$2"; echo "$1 result"', "phase"])


async def main():
    loop = loopd.connect_async()
    print("starting main")
    p1 = await loop.call_soon(phase, "phase1", 0.4)
    p2 = await loop.call_soon(phase, "phase2", 0.2)
    print("waiting for phases to complete")
    results = await loopd.gather(p1, p2)
    events = []
    for name, p in (("phase1", p1), ("phase2", p2)):
        await p.refresh()
        events += [(p.started, "in " + name), (p.finished, "done with " + name)]
    for _, line in sorted(events):
        print(line)
    print("results: {!r}".format([r["stdout"].strip() for r in results]))
    await loop.close()


asyncio.run(main())
