"""
recur: next fire times per second for 10,000 schedules across 50 zones,
and bytes per parsed spec and per loaded zone (no daemon: the pure
recur/ code, through bench/build/recur_bench; see its header).
"""
TITLE = "recur: next fire times/s, 10,000 schedules in 50 zones; bytes per spec"


def run(ctx):
    rounds = 5 if ctx.args.quick else 20
    res = ctx.tool("recur_bench", "-s", 10000, "-z", 50, "-r", rounds)
    res["figures"] = [
        ("next fire times/s (chained)", round(res["next_per_sec_chained"]), "/s"),
        ("next fire times/s (random instants)", round(res["next_per_sec_random"]), "/s"),
        ("bytes per parsed spec", res["bytes_per_spec"], "B"),
        ("bytes per loaded zone (shared)", round(res["bytes_per_zone"]), "B"),
    ]
    return res
