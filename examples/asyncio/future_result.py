"""A future set by a scheduled callback, and awaited."""
import asyncio


def mark_done(future, result):
    print("setting future result to {!r}".format(result))
    future.set_result(result)


async def main():
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    print("scheduling mark_done")
    loop.call_soon(mark_done, all_done, "the result")
    result = await all_done
    print("returned result: {!r}".format(result))


asyncio.run(main())
