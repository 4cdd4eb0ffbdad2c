import ReluMIPCommands

ReluMIPCommand.main()
