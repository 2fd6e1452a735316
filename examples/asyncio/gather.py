"""gather of two tasks: both run at once, the results come back in the
order given."""
import asyncio


async def phase1():
    print("in phase1")
    await asyncio.sleep(0.4)
    print("done with phase1")
    return "phase1 result"


async def phase2():
    print("in phase2")
    await asyncio.sleep(0.2)
    print("done with phase2")
    return "phase2 result"


async def main():
    print("starting main")
    print("waiting for phases to complete")
    results = await asyncio.gather(phase1(), phase2())
    print("results: {!r}".format(results))


asyncio.run(main())
