"""call_later: the same callback at two delays, and a call_soon that
beats both."""
import asyncio


def callback(n):
    print("callback {} invoked".format(n))


async def main():
    loop = asyncio.get_running_loop()
    print("registering callbacks")
    loop.call_later(0.4, callback, 1)
    loop.call_later(0.2, callback, 2)
    loop.call_soon(callback, 3)
    await asyncio.sleep(0.6)


asyncio.run(main())
