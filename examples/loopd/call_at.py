"""call_at against loopd, with the blocking face: deadlines from the
daemon's loop.time(); loopd's own started and due times show that nothing
ran early."""
import loopd

callback = loopd.Command(["sh", "-c", 'echo "callback $1 invoked"', "callback"])

with loopd.connect() as loop:
    now = loop.time()
    print("loop time is a float: {}".format(isinstance(now, float)))
    print("registering callbacks")
    calls = [loop.call_at(now + 0.4, callback, 1),
             loop.call_at(now + 0.2, callback, 2),
             loop.call_soon(callback, 3)]
    out = {c: c.wait()["stdout"] for c in calls}
    for c in sorted(out, key=lambda c: (c.started, c.id)):
        early = c.started < c.when()
        print(out[c].rstrip("\n") + (" EARLY" if early else ""))
