return {
  name = "impair",
  version = "1.0.0",
  description = "A bump in the wire between two devices that delays, drops, duplicates, reorders, corrupts "
                .. "and rate-limits what pcap-filter rules match, as netem does",
  api = 1,
  handlers = {"impair.lua"},
  config = {
    rules = {type = "file", default = "",
             help = "a rules file: Lua returning a list of rules, {match = 'udp port 53', loss = 10, ...} "
                    .. "(see the README); its rules come before the one the settings below make"},
    seed = {type = "integer", default = 0,
            help = "the random seed: the same seed, the same decisions frame for frame (0: one from the clock, logged)"},
    match = {type = "string", default = "",
             help = "the settings' rule: a pcap-filter expression ('': every frame)"},
    from = {type = "string", default = "",
            help = "the settings' rule applies to frames read from this device (a name or 1, 2; '': both ways)"},
    delay = {type = "string", default = "0", help = "milliseconds every frame is held"},
    jitter = {type = "string", default = "0", help = "milliseconds the delay varies by (see distribution)"},
    distribution = {type = "string", default = "uniform",
                    help = "how the jitter is spread: uniform (delay +- jitter), normal or pareto "
                           .. "(jitter their standard deviation)"},
    loss = {type = "string", default = "0", help = "percent of frames dropped at random"},
    gemodel = {type = "string", default = "",
               help = "Gilbert-Elliott bursts instead of loss, netem's 'p [r [1-h [1-k]]]' in percent: "
                      .. "p the chance of going bad, r of going good, then the loss in the bad and in the good state"},
    duplicate = {type = "string", default = "0", help = "percent of frames sent twice"},
    reorder = {type = "string", default = "0",
               help = "percent of frames sent at once, ahead of those delayed (needs delay)"},
    gap = {type = "integer", default = 0, help = "with reorder: only after gap - 1 frames delayed may one go ahead"},
    corrupt = {type = "string", default = "0", help = "percent of frames with one bit flipped"},
    corrupt_checksums = {type = "string", default = "keep",
                         help = "keep: a corrupted frame's checksum is left wrong; fix: updated, so the damage "
                                .. "reaches the application"},
    rate = {type = "string", default = "",
            help = "the link's rate, e.g. 1mbit, 500kbit, 2mbps (bytes) ('': no limit)"},
    limit = {type = "integer", default = 1000, help = "frames held per direction at most; more are dropped"},
  },
  permissions = {},
}
