"""call_at: deadlines computed from loop.time(); nothing runs before its
time."""
import asyncio


def callback(n, loop, due):
    print("callback {} invoked{}".format(n, "" if loop.time() >= due else " EARLY"))


async def main():
    loop = asyncio.get_running_loop()
    now = loop.time()
    print("loop time is a float: {}".format(isinstance(now, float)))
    print("registering callbacks")
    loop.call_at(now + 0.4, callback, 1, loop, now + 0.4)
    loop.call_at(now + 0.2, callback, 2, loop, now + 0.2)
    loop.call_soon(callback, 3, loop, now)
    await asyncio.sleep(0.6)


asyncio.run(main())
