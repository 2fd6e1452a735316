"""call_soon against loopd: the callback is a command loopd runs (a call's
args are appended to its argv); loopd starts soon calls in the order it
accepted them."""
import asyncio

import loopd

callback = loopd.Command(["sh", "-c",
                          'echo "callback invoked with $1 and ${KWARG:-default}"',
                          "callback"])


async def main():
    loop = loopd.connect_async()
    print("registering callbacks")
    first = await loop.call_soon(callback, 1)
    # functools.partial(callback, kwarg=...): an action with the value bound.
    wrapped = callback.replace(env={"KWARG": "not default"})
    second = await loop.call_soon(wrapped, 2)
    out = {c: (await c)["stdout"] for c in (first, second)}
    # What each command printed, in the order loopd started them.
    for c in sorted(out, key=lambda c: (c.started, c.id)):
        print(out[c], end="")
    await loop.close()


print("entering event loop")
asyncio.run(main())
print("closing event loop")
