# Cython declarations for EPICS alarm.h: alarm severities and conditions.
# Declarations only.

cdef extern from "alarm.h" nogil:

    enum:
        NO_ALARM                        # 0

    ctypedef enum epicsAlarmSeverity:
        epicsSevNone                    # == NO_ALARM
        epicsSevMinor
        epicsSevMajor
        epicsSevInvalid
        ALARM_NSEV                      # number of severities

    # legacy macro names for the severities
    enum:
        firstEpicsAlarmSev
        MINOR_ALARM
        MAJOR_ALARM
        INVALID_ALARM
        lastEpicsAlarmSev

    ctypedef enum epicsAlarmCondition:
        epicsAlarmNone                  # == NO_ALARM
        epicsAlarmRead
        epicsAlarmWrite
        epicsAlarmHiHi
        epicsAlarmHigh
        epicsAlarmLoLo
        epicsAlarmLow
        epicsAlarmState
        epicsAlarmCos
        epicsAlarmComm
        epicsAlarmTimeout
        epicsAlarmHwLimit
        epicsAlarmCalc
        epicsAlarmScan
        epicsAlarmLink
        epicsAlarmSoft
        epicsAlarmBadSub
        epicsAlarmUDF
        epicsAlarmDisable
        epicsAlarmSimm
        epicsAlarmReadAccess
        epicsAlarmWriteAccess
        ALARM_NSTATUS                   # number of conditions

    # legacy macro names for the conditions
    enum:
        firstEpicsAlarmCond
        READ_ALARM
        WRITE_ALARM
        HIHI_ALARM
        HIGH_ALARM
        LOLO_ALARM
        LOW_ALARM
        STATE_ALARM
        COS_ALARM
        COMM_ALARM
        TIMEOUT_ALARM
        HW_LIMIT_ALARM
        CALC_ALARM
        SCAN_ALARM
        LINK_ALARM
        SOFT_ALARM
        BAD_SUB_ALARM
        UDF_ALARM
        DISABLE_ALARM
        SIMM_ALARM
        READ_ACCESS_ALARM
        WRITE_ACCESS_ALARM
        lastEpicsAlarmCond

    # names of the above, exported by libCom (link -lCom)
    const char *epicsAlarmSeverityStrings[]     # [ALARM_NSEV]
    const char *epicsAlarmConditionStrings[]    # [ALARM_NSTATUS]
