-- Logs every device's counters when the host stops, one line a device:
--   stats tap0 rx_packets=N tx_packets=N write_errors=N malformed=N
-- and each handler's calls, one line a handler:
--   handler icmp calls=N
tapir.on_stop(function()
  for name, counters in pairs(tapir.stats().devices) do
    tapir.log.info(string.format("stats %s rx_packets=%d tx_packets=%d write_errors=%d malformed=%d",
      name, counters.rx_packets, counters.tx_packets, counters.write_errors, counters.malformed))
  end
  for _, handler in ipairs(tapir.stats().handlers) do
    tapir.log.info(string.format("handler %s calls=%d", handler.selector, handler.calls))
  end
end)
