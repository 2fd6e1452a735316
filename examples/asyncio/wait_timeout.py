"""wait with a timeout: it returns what is done and what is still pending;
the pending tasks are then cancelled."""
import asyncio


async def phase(i):
    print("in phase {}".format(i))
    try:
        await asyncio.sleep(0.1 + i)
    except asyncio.CancelledError:
        print("phase {} cancelled".format(i))
        raise
    print("done with phase {}".format(i))
    return "phase {} result".format(i)


async def main(num_phases):
    print("starting main")
    phases = [asyncio.create_task(phase(i)) for i in range(num_phases)]
    print("waiting 0.5 for phases to complete")
    done, pending = await asyncio.wait(phases, timeout=0.5)
    print("{} completed and {} pending".format(len(done), len(pending)))
    if pending:
        print("cancelling tasks")
        for t in phases:
            if t in pending:
                t.cancel()
        await asyncio.wait(pending)
    print("exiting main")


asyncio.run(main(3))
