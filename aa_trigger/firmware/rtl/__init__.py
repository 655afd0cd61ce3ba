"""RTL back end: pipelined shift-and-add Verilog, Verilator simulation, yosys estimate."""
