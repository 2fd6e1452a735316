"""call_later against loopd: timed calls start in order of their due time,
and a soon call accepted before they fall due starts first."""
import asyncio

import loopd

callback = loopd.Command(["sh", "-c", 'echo "callback $1 invoked"', "callback"])


async def main():
    loop = loopd.connect_async()
    print("registering callbacks")
    calls = [await loop.call_later(0.4, callback, 1),
             await loop.call_later(0.2, callback, 2),
             await loop.call_soon(callback, 3)]
    out = {c: (await c)["stdout"] for c in calls}
    for c in sorted(out, key=lambda c: (c.started, c.id)):
        print(out[c], end="")
    await loop.close()


asyncio.run(main())
