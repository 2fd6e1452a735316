"""Done-callbacks against loopd: each is a command that gets the done
future's JSON on stdin; loopd starts them in registration order."""
import asyncio
import sys

import loopd

CALLBACK = """
import json, os, sys
future = json.load(sys.stdin)
print("{}: future done: {}".format(os.environ["N"], future["result"]))
"""
callback = loopd.Command([sys.executable, "-c", CALLBACK])


async def main():
    loop = loopd.connect_async()
    all_done = await loop.create_future()
    print("registering callbacks on future")
    callbacks = [await all_done.add_done_callback(callback.replace(env={"N": "1"})),
                 await all_done.add_done_callback(callback.replace(env={"N": "2"}))]
    print("setting result of future")
    await all_done.set_result("the result")
    out = {c: (await c)["stdout"] for c in callbacks}
    for c in sorted(out, key=lambda c: (c.started, c.id)):
        print(out[c], end="")
    await loop.close()


asyncio.run(main())
