import ReluMIP
