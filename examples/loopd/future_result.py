"""A remote future set by a command loopd runs (another process, using
this package's blocking face), and awaited here."""
import asyncio
import os
import sys

import loopd

MARK_DONE = """
import sys, loopd
future_id, result = sys.argv[1], sys.argv[2]
print("setting future result to {!r}".format(result))
loopd.connect().future(future_id).set_result(result)
"""


async def main():
    loop = loopd.connect_async()
    # The child finds the daemon as we did, and this package beside us.
    env = dict(loop.child_env(),
               PYTHONPATH=os.path.dirname(os.path.dirname(loopd.__file__)))
    mark_done = loopd.Command([sys.executable, "-c", MARK_DONE], env=env)
    all_done = await loop.create_future()
    print("scheduling mark_done")
    call = await loop.call_soon(mark_done, all_done.id, "the result")
    result = await all_done
    print((await call)["stdout"], end="")   # what mark_done printed first
    print("returned result: {!r}".format(result))
    await loop.close()


asyncio.run(main())
