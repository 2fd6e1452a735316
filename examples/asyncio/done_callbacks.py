"""Done-callbacks run in the order they were registered, once the future
is done."""
import asyncio
import functools


def callback(future, n):
    print("{}: future done: {}".format(n, future.result()))


async def main():
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    print("registering callbacks on future")
    all_done.add_done_callback(functools.partial(callback, n=1))
    all_done.add_done_callback(functools.partial(callback, n=2))
    print("setting result of future")
    all_done.set_result("the result")
    await asyncio.sleep(0.1)


asyncio.run(main())
