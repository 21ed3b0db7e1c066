"""The camera worker process: RTSP in, closed segments and live packets out.

Everything here runs in a worker, one process per camera.
"""
