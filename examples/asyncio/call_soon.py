"""call_soon: callbacks run in the order they were registered;
functools.partial binds a keyword argument."""
import asyncio
import functools


def callback(arg, *, kwarg="default"):
    print("callback invoked with {} and {}".format(arg, kwarg))


async def main():
    loop = asyncio.get_running_loop()
    print("registering callbacks")
    loop.call_soon(callback, 1)
    wrapped = functools.partial(callback, kwarg="not default")
    loop.call_soon(wrapped, 2)
    await asyncio.sleep(0.1)


print("entering event loop")
asyncio.run(main())
print("closing event loop")
