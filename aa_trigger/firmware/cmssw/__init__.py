"""The CMSSW emulator back end: a C++ library of the deployed graph behind the ``hls4mlEmulator::Model``
interface, loadable by name with ``dlopen``."""
