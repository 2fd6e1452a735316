"""A remote future set by a command loopd runs (another process, using
this package's blocking face), and awaited here."""
import asyncio
import os
import sys

import loopd

MARK_DONE = """
import sys
sys.path.insert(0, sys.argv[1])
import loopd
future_id, result = sys.argv[2], sys.argv[3]
print("setting future result to {!r}".format(result))
loopd.connect().future(future_id).set_result(result)
"""


async def main():
    loop = loopd.connect_async()
    # The child finds the daemon as we did, and this package beside us
    # (as an argument: loopd refuses loader variables such as PYTHONPATH
    # in a command's environment by default).
    here = os.path.dirname(os.path.dirname(loopd.__file__))
    mark_done = loopd.Command([sys.executable, "-c", MARK_DONE, here],
                              env=loop.child_env())
    all_done = await loop.create_future()
    print("scheduling mark_done")
    call = await loop.call_soon(mark_done, all_done.id, "the result")
    result = await all_done
    print((await call)["stdout"], end="")   # what mark_done printed first
    print("returned result: {!r}".format(result))
    await loop.close()


asyncio.run(main())
