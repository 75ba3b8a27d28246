// replicator config
var config = {
    maxEventsPerWrite: 10000,   /* optional */
    connectTimeout: 15000,
    eventSource: { host: 'localhost:5433', databaseName: 'sourceDb', user: 'user1', password: 'pass1' },
    replicationDestinations: [
        { host: "localhost", databaseName: 'dest1', user: 'u', password: 'p', },
        { host: 'db2.example', databaseName: 'dest2' },
    ],
};
module.exports = config;
