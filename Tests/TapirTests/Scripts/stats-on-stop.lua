-- Logs every device's counters when the host stops, one line a device:
--   stats tap0 rx_packets=N tx_packets=N write_errors=N malformed=N
tapir.on_stop(function()
  for name, counters in pairs(tapir.stats().devices) do
    tapir.log.info(string.format("stats %s rx_packets=%d tx_packets=%d write_errors=%d malformed=%d",
      name, counters.rx_packets, counters.tx_packets, counters.write_errors, counters.malformed))
  end
end)
